// Normalise, select HVGs, PCA, Leiden and label the QC'd RNA cells of all samples.
process SCACT_RNA_PROCESS {
    tag "${meta.id}"
    label 'process_medium'

    input:
    tuple val(meta), path(rna_qc) // meta: [id: 'all']; the samples' <sample>_rna_qc.h5ad, by sample id
    path labels                   // cell labels (CSV/TSV), or []

    output:
    tuple val(meta), path("rna_processed.h5ad"), emit: h5ad
    tuple val(meta), path("rna_marker_scores.tsv"), emit: marker_scores, optional: true
    tuple val(meta), path("rna_umap.png"), emit: plots, optional: true
    path "versions.yml", emit: versions, topic: versions

    when:
    task.ext.when == null || task.ext.when

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
