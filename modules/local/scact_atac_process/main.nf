// All samples: binarize, TF-IDF top peaks, LSI, Leiden -> atac_processed.h5ad + gene_activity.h5ad.
process SCACT_ATAC_PROCESS {
    tag "${meta.id}"
    label 'process_high'

    input:
    tuple val(meta), path(peak_h5ads) // meta: [id: 'all']; the samples' <sample>_atac_peaks.h5ad, by sample id
    path annotation

    output:
    tuple val(meta), path("atac_processed.h5ad"), emit: h5ad
    tuple val(meta), path("gene_activity.h5ad"), emit: gene_activity
    tuple val(meta), path("atac_umap.png"), emit: plot
    path "versions.yml", emit: versions, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def annotation_arg = annotation ? "--annotation ${annotation}" : ''
    """
    scact_atac_process.py \\
        --input ${peak_h5ads} \\
        ${annotation_arg} \\
        ${args} \\
        --outdir . \\
        --task-name "${task.process}"
    """

    stub:
    """
    touch atac_processed.h5ad gene_activity.h5ad atac_umap.png versions.yml
    """
}
