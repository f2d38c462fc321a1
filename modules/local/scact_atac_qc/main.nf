// ATAC cell QC of one sample: fragments, TSS enrichment, AMULET-style doublets -> <sample>_atac_qc.h5ad + .tsv + PNGs.
process SCACT_ATAC_QC {
    tag "${meta.id}"
    label 'process_medium'

    input:
    tuple val(meta), path(atac_h5ad), path(fragments), path(fragments_index), path(cell_metrics)
    path annotation

    output:
    tuple val(meta), path("${prefix}_atac_qc.h5ad"), emit: h5ad
    tuple val(meta), path("${prefix}_atac_qc.tsv"), emit: qc_table
    tuple val(meta), path("${prefix}_atac_qc_*.png"), emit: plots, optional: true
    path "versions.yml", emit: versions, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}"
    def fragments_arg = fragments ? "--fragments ${fragments} --annotation ${annotation}" : ''
    def metrics_arg = cell_metrics ? "--cell-metrics ${cell_metrics}" : ''
    """
    scact_atac_qc.py \\
        --input ${atac_h5ad} \\
        --sample ${prefix} \\
        ${fragments_arg} \\
        ${metrics_arg} \\
        ${args} \\
        --outdir . \\
        --task-name "${task.process}"
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}_atac_qc.h5ad ${prefix}_atac_qc.tsv versions.yml
    """
}
