// In-silico perturbation: integrated gradients of genes' translated expression w.r.t. the ATAC peaks.
process SCACT_PERTURB {
    tag "${meta.id}"
    label 'process_gpu'

    input:
    tuple val(meta), path(model), path(atac)
    path annotation // TSS BED or GTF, or []
    val genes       // comma-separated gene names

    output:
    tuple val(meta), path("ig_summary.tsv"), emit: summary
    tuple val(meta), path("*_ig_peaks.tsv"), emit: peaks, optional: true
    tuple val(meta), path("*_ig_by_cell_type.tsv"), emit: by_cell_type, optional: true
    tuple val(meta), path("*_ig_top_peaks_accessibility.png"), emit: plots, optional: true
    path "versions.yml", emit: versions, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def device = task.accelerator ? 'cuda' : 'cpu'
    def annotation_arg = annotation ? "--annotation ${annotation}" : ''
    """
    scact_perturb.py \\
        --model ${model} \\
        --atac ${atac} \\
        ${annotation_arg} \\
        --genes '${genes}' \\
        --device ${device} \\
        --outdir . \\
        ${args} \\
        --task-name "${task.process}"
    """

    stub:
    """
    touch ig_summary.tsv versions.yml
    """
}
