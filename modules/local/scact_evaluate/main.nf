// Translations + observed inputs -> metrics.tsv (scACT and baselines), ROC tables, PNGs.
process SCACT_EVALUATE {
    tag "evaluate"
    label 'process_medium'

    input:
    path rna
    path atac
    path rna_to_atac
    path atac_to_rna
    path joint_embedding
    path gene_activity

    output:
    path "metrics.tsv"               , emit: metrics
    path "metrics_per_type.tsv"      , emit: per_type
    path "roc_curves.tsv"            , emit: roc_curves
    path "within_type_distances.tsv" , emit: distances
    path "*.png"                     , emit: plots, optional: true
    path "versions.yml"              , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def activity = gene_activity ? "--gene-activity ${gene_activity}" : ''
    """
    scact_evaluate.py \\
        --rna ${rna} \\
        --atac ${atac} \\
        --rna-to-atac ${rna_to_atac} \\
        --atac-to-rna ${atac_to_rna} \\
        --joint-embedding ${joint_embedding} \\
        ${activity} \\
        ${args} \\
        --task-name "${task.process}"
    """

    stub:
    """
    touch metrics.tsv metrics_per_type.tsv roc_curves.tsv within_type_distances.tsv
    touch versions.yml
    """
}
