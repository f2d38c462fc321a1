// MACS3 peak calling on the pseudo-bulk of the kept cells of every sample -> peaks.bed (genome order).
process SCACT_CALL_PEAKS {
    tag "all samples"
    label 'process_medium'

    input:
    // every sample with fragments: its <sample>_atac_qc.h5ad, fragments and index, in one order
    tuple path(qc_h5ads), path(fragments, stageAs: "fragments/??/*"), path(fragments_index, stageAs: "fragments/??/*")
    path annotation

    output:
    path "peaks.bed", emit: peaks
    path "macs3_*", emit: macs
    path "dropped_chromosomes.tsv", emit: dropped
    path "peaks_per_chromosome.png", emit: plot
    path "peak_groups.tsv", emit: groups, optional: true
    path "versions.yml", emit: versions

    script:
    def qc = qc_h5ads instanceof List ? qc_h5ads : [qc_h5ads]
    def frags = fragments instanceof List ? fragments : [fragments]
    def pairs = [qc, frags].transpose().collect { q, f -> "--input ${q} ${f}" }.join(' ')
    def args = task.ext.args ?: ''
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
