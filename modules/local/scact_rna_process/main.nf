// Normalise, select HVGs, PCA, Leiden and label the QC'd RNA cells of all samples.
process SCACT_RNA_PROCESS {
    tag "rna"
    label 'process_medium'

    input:
    path rna_qc
    path labels

    output:
    path "rna_processed.h5ad", emit: h5ad
    path "rna_marker_scores.tsv", emit: marker_scores, optional: true
    path "rna_umap.png", emit: plots, optional: true
    path "versions.yml", emit: versions

    script:
    def args = task.ext.args ?: ''
    def labels_arg = labels ? "--labels ${labels}" : ''
    """
    scact_rna_process.py \\
        --input ${rna_qc} \\
        ${labels_arg} \\
        ${args} \\
        --outdir . \\
        --task-name "${task.process}"
    """

    stub:
    """
    touch rna_processed.h5ad rna_marker_scores.tsv rna_umap.png versions.yml
    """
}
