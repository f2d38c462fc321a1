// Label the ATAC cells, reconcile cell-type names across modalities, write the training inputs.
process SCACT_RECONCILE {
    tag "${meta.id}"
    label 'process_low'

    input:
    tuple val(meta), path(rna_processed), path(atac_processed), path(gene_activity)
    path label_mapping // a CSV of RNA label -> ATAC label, or []

    output:
    tuple val(meta), path("rna.h5ad"), emit: rna
    tuple val(meta), path("atac.h5ad"), emit: atac
    tuple val(meta), path("label_reconciliation.tsv"), emit: report
    tuple val(meta), path("atac_marker_scores.tsv"), emit: marker_scores, optional: true
    tuple val(meta), path("atac_umap_labels.png"), emit: plots, optional: true
    path "versions.yml", emit: versions, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def activity_arg = gene_activity ? "--gene-activity ${gene_activity}" : ''
    def mapping_arg = label_mapping ? "--label-mapping ${label_mapping}" : ''
    """
    scact_reconcile.py \\
        --rna ${rna_processed} \\
        --atac ${atac_processed} \\
        ${activity_arg} \\
        ${mapping_arg} \\
        ${args} \\
        --outdir . \\
        --task-name "${task.process}"
    """

    stub:
    """
    touch rna.h5ad atac.h5ad label_reconciliation.tsv versions.yml
    """
}
