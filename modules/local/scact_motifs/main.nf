// Motif activation score per cell type (JASPAR scan of the peaks) in observed and translated ATAC.
process SCACT_MOTIFS {
    tag "${meta.id}"
    label 'process_medium'

    input:
    tuple val(meta), path(atac), path(rna_to_atac), path(rna) // rna: the cell types of the translated cells
    path fasta // genome FASTA, or []: the scan is skipped with a message

    output:
    tuple val(meta), path("motif_activation.tsv"), emit: activation, optional: true
    tuple val(meta), path("motif_peaks.tsv"), emit: peaks, optional: true
    tuple val(meta), path("motif_agreement.tsv"), emit: agreement, optional: true
    tuple val(meta), path("motif_activation_heatmap.png"), emit: heatmap, optional: true
    tuple val(meta), path("motifs_skipped.txt"), emit: skipped, optional: true
    path "versions.yml", emit: versions, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def fasta_arg = fasta ? "--fasta ${fasta}" : ''
    """
    scact_motifs.py \\
        --atac ${atac} \\
        ${fasta_arg} \\
        --rna-to-atac ${rna_to_atac} \\
        --rna ${rna} \\
        --outdir . \\
        ${args} \\
        --task-name "${task.process}"
    """

    stub:
    """
    touch motif_activation.tsv motifs_skipped.txt versions.yml
    """
}
