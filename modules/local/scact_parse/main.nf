// One samplesheet row -> <sample>_rna.h5ad and/or <sample>_atac.h5ad of raw counts (cells named <sample>:<barcode>).
process SCACT_PARSE {
    tag "${meta.id}"
    label 'process_low'

    input:
    tuple val(meta), path(input), path(index), path(labels)

    output:
    tuple val(meta), path("${prefix}_rna.h5ad"), emit: rna, optional: true
    tuple val(meta), path("${prefix}_atac.h5ad"), emit: atac, optional: true
    path "versions.yml", emit: versions, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}"
    def batch_arg = meta.batch != meta.id ? "--batch ${meta.batch}" : ''
    def labels_arg = labels ? "--labels ${labels}" : (meta.labels ? "--labels ${meta.labels}" : '')
    """
    scact_parse.py \\
        --sample ${prefix} \\
        --modality ${meta.modality} \\
        --input ${input} \\
        ${batch_arg} \\
        ${labels_arg} \\
        ${args} \\
        --outdir . \\
        --task-name "${task.process}"
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    def outputs = meta.modality == 'multiome' ? ['rna', 'atac'] : [meta.modality]
    """
    touch ${outputs.collect { modality -> "${prefix}_${modality}.h5ad" }.join(' ')} versions.yml
    """
}
