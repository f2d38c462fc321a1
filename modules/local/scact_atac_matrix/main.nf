// One sample's cells x peaks counts on the shared peaks.bed -> <sample>_atac_peaks.h5ad.
process SCACT_ATAC_MATRIX {
    tag "${meta.id}"
    label 'process_medium'

    input:
    tuple val(meta), path(qc_h5ad), path(fragments), path(fragments_index)
    path peaks

    output:
    tuple val(meta), path("${meta.id}_atac_peaks.h5ad"), emit: h5ad
    path "versions.yml", emit: versions

    script:
    def fragments_arg = fragments ? "--fragments ${fragments}" : ''
    def peaks_arg = peaks ? "--peaks ${peaks}" : ''
    def args = task.ext.args ?: ''
    """
    scact_atac_matrix.py \\
        --input ${qc_h5ad} \\
        ${peaks_arg} \\
        --sample ${meta.id} \\
        ${fragments_arg} \\
        ${args} \\
        --outdir . \\
        --task-name "${task.process}"
    """

    stub:
    """
    touch ${meta.id}_atac_peaks.h5ad versions.yml
    """
}
