// In-silico perturbation: integrated gradients of genes' translated expression w.r.t. the ATAC peaks.
process SCACT_PERTURB {
    tag "${genes}"
    label 'process_gpu'

    input:
    path model
    path atac
    path annotation
    val genes

    output:
    path "ig_summary.tsv", emit: summary
    path "*_ig_peaks.tsv", emit: peaks, optional: true
    path "*_ig_by_cell_type.tsv", emit: by_cell_type, optional: true
    path "*_ig_top_peaks_accessibility.png", emit: plots, optional: true
    path "versions.yml", emit: versions

    script:
    def args = task.ext.args ?: ''
    def annotation_arg = annotation ? "--annotation ${annotation}" : ''
    """
    scact_perturb.py \\
        --model ${model} \\
        --atac ${atac} \\
        ${annotation_arg} \\
        --genes '${genes}' \\
        --outdir . \\
        ${args} \\
        --task-name "${task.process}"
    """

    stub:
    """
    touch ig_summary.tsv versions.yml
    """
}
