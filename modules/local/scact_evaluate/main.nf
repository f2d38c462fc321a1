// Translations + observed inputs -> metrics.tsv (scACT and baselines), ROC tables, PNGs.
process SCACT_EVALUATE {
    tag "${meta.id}"
    label 'process_medium'

    input:
    tuple val(meta), path(rna), path(atac), path(rna_to_atac), path(atac_to_rna), path(joint_embedding), path(gene_activity)

    output:
    tuple val(meta), path("metrics.tsv"), emit: metrics
    tuple val(meta), path("metrics_per_type.tsv"), emit: per_type
    tuple val(meta), path("roc_curves.tsv"), emit: roc_curves
    tuple val(meta), path("within_type_distances.tsv"), emit: distances
    tuple val(meta), path("*.png"), emit: plots, optional: true
    path "versions.yml", emit: versions, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def activity_arg = gene_activity ? "--gene-activity ${gene_activity}" : ''
    """
    scact_evaluate.py \\
        --rna ${rna} \\
        --atac ${atac} \\
        --rna-to-atac ${rna_to_atac} \\
        --atac-to-rna ${atac_to_rna} \\
        --joint-embedding ${joint_embedding} \\
        ${activity_arg} \\
        ${args} \\
        --task-name "${task.process}"
    """

    stub:
    """
    touch metrics.tsv metrics_per_type.tsv roc_curves.tsv within_type_distances.tsv versions.yml
    """
}
