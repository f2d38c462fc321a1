// One samplesheet row -> <sample>_rna.h5ad and/or <sample>_atac.h5ad of raw counts (cells named <sample>:<barcode>).
process SCACT_PARSE {
    tag "${meta.id}"
    label 'process_low'

    input:
    tuple val(meta), path(input), path(index), path(labels)

    output:
    tuple val(meta), path("${meta.id}_rna.h5ad"), emit: rna, optional: true
    tuple val(meta), path("${meta.id}_atac.h5ad"), emit: atac, optional: true
    path "versions.yml", emit: versions

    script:
    def batch_arg = meta.batch ? "--batch ${meta.batch}" : ''
    def labels_arg = labels ? "--labels ${labels}" : (meta.labels ? "--labels ${meta.labels}" : '')
    """
    scact_parse.py \\
        --sample ${meta.id} \\
        --modality ${meta.modality} \\
        --input ${input} \\
        ${batch_arg} \\
        ${labels_arg} \\
        --outdir . \\
        --task-name "${task.process}"
    """

    stub:
    """
    touch ${meta.id}_rna.h5ad ${meta.id}_atac.h5ad versions.yml
    """
}
