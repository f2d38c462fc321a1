// All samples: binarize, TF-IDF top peaks, LSI, Leiden -> atac_processed.h5ad + gene_activity.h5ad.
process SCACT_ATAC_PROCESS {
    tag "all samples"
    label 'process_high'

    input:
    path peak_h5ads
    path annotation

    output:
    path "atac_processed.h5ad", emit: h5ad
    path "gene_activity.h5ad", emit: gene_activity
    path "atac_umap.png", emit: plot
    path "versions.yml", emit: versions

    script:
    def args = task.ext.args ?: ''
    """
    scact_atac_process.py \\
        --input ${peak_h5ads} \\
        --annotation ${annotation} \\
        ${args} \\
        --outdir . \\
        --task-name "${task.process}"
    """

    stub:
    """
    touch atac_processed.h5ad gene_activity.h5ad atac_umap.png versions.yml
    """
}
