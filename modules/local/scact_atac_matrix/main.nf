// One sample's cells x peaks counts on the shared peaks.bed -> <sample>_atac_peaks.h5ad.
process SCACT_ATAC_MATRIX {
    tag "${meta.id}"
    label 'process_medium'

    input:
    tuple val(meta), path(qc_h5ad), path(fragments), path(fragments_index)
    path peaks // the peaks of SCACT_CALL_PEAKS, or [] when no sample has fragments

    output:
    tuple val(meta), path("${prefix}_atac_peaks.h5ad"), emit: h5ad
    path "versions.yml", emit: versions, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}"
    def fragments_arg = fragments ? "--fragments ${fragments}" : ''
    def peaks_arg = peaks ? "--peaks ${peaks}" : ''
    """
    scact_atac_matrix.py \\
        --input ${qc_h5ad} \\
        ${peaks_arg} \\
        --sample ${prefix} \\
        ${fragments_arg} \\
        ${args} \\
        --outdir . \\
        --task-name "${task.process}"
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}_atac_peaks.h5ad versions.yml
    """
}
