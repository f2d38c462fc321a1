// Motif activation score per cell type (JASPAR scan of the peaks) in observed and translated ATAC.
process SCACT_MOTIFS {
    tag "motifs"
    label 'process_medium'

    input:
    path atac
    path fasta        // [] when no genome FASTA: the step is skipped with a message
    path rna_to_atac  // [] when absent
    path rna          // cell types of the translated cells

    output:
    path "motif_activation.tsv", emit: activation, optional: true
    path "motif_peaks.tsv", emit: peaks, optional: true
    path "motif_agreement.tsv", emit: agreement, optional: true
    path "motif_activation_heatmap.png", emit: heatmap, optional: true
    path "motifs_skipped.txt", emit: skipped, optional: true
    path "versions.yml", emit: versions

    script:
    def args = task.ext.args ?: ''
    def fasta_arg = fasta ? "--fasta ${fasta}" : ''
    def translated_arg = rna_to_atac ? "--rna-to-atac ${rna_to_atac} --rna ${rna}" : ''
    """
    scact_motifs.py \\
        --atac ${atac} \\
        ${fasta_arg} \\
        ${translated_arg} \\
        --outdir . \\
        ${args} \\
        --task-name "${task.process}"
    """

    stub:
    """
    touch motif_activation.tsv motifs_skipped.txt versions.yml
    """
}
