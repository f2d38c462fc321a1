// ATAC cell QC of one sample: fragments, TSS enrichment, AMULET-style doublets -> <sample>_atac_qc.h5ad + .tsv + PNGs.
process SCACT_ATAC_QC {
    tag "${meta.id}"
    label 'process_medium'

    input:
    tuple val(meta), path(atac_h5ad), path(fragments), path(fragments_index), path(cell_metrics)
    path annotation

    output:
    tuple val(meta), path("${meta.id}_atac_qc.h5ad"), emit: h5ad
    tuple val(meta), path("${meta.id}_atac_qc.tsv"), emit: qc_table
    path "${meta.id}_atac_qc_*.png", emit: plots, optional: true
    path "versions.yml", emit: versions

    script:
    def fragments_arg = fragments ? "--fragments ${fragments} --annotation ${annotation}" : ''
    def metrics_arg = cell_metrics ? "--cell-metrics ${cell_metrics}" : ''
    def args = task.ext.args ?: ''
    """
    scact_atac_qc.py \\
        --input ${atac_h5ad} \\
        --sample ${meta.id} \\
        ${fragments_arg} \\
        ${metrics_arg} \\
        ${args} \\
        --outdir . \\
        --task-name "${task.process}"
    """

    stub:
    """
    touch ${meta.id}_atac_qc.h5ad ${meta.id}_atac_qc.tsv versions.yml
    """
}
