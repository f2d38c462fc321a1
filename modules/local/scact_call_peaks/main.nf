// MACS3 peak calling on the pseudo-bulk of the kept cells of every sample -> peaks.bed (genome order).
process SCACT_CALL_PEAKS {
    tag "${meta.id}"
    label 'process_medium'

    input:
    // meta: [id: 'all']; every sample with fragments: its <sample>_atac_qc.h5ad, fragments and index, by sample id
    tuple val(meta), path(qc_h5ads), path(fragments, stageAs: "fragments/??/*"), path(fragments_index, stageAs: "fragments/??/*")
    path annotation

    output:
    tuple val(meta), path("peaks.bed"), emit: peaks
    tuple val(meta), path("macs?_*"), emit: macs
    tuple val(meta), path("dropped_chromosomes.tsv"), emit: dropped
    tuple val(meta), path("peaks_per_chromosome.png"), emit: plot
    tuple val(meta), path("peak_groups.tsv"), emit: groups, optional: true
    path "versions.yml", emit: versions, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def qc = qc_h5ads instanceof List ? qc_h5ads : [qc_h5ads]
    def frags = fragments instanceof List ? fragments : [fragments]
    def pairs = [qc, frags].transpose().collect { q, f -> "--input ${q} ${f}" }.join(' ')
    """
    scact_call_peaks.py \\
        ${pairs} \\
        --annotation ${annotation} \\
        ${args} \\
        --outdir . \\
        --task-name "${task.process}"
    """

    stub:
    """
    touch peaks.bed macs3_peaks.narrowPeak dropped_chromosomes.tsv peaks_per_chromosome.png versions.yml
    """
}
