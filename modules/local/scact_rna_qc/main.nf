// RNA cell QC of one sample: UMIs, genes, mitochondrial percent, DoubletDetection doublets.
process SCACT_RNA_QC {
    tag "${meta.id}"
    label 'process_low'

    input:
    tuple val(meta), path(rna)

    output:
    tuple val(meta), path("${prefix}_rna_qc.h5ad"), emit: h5ad
    tuple val(meta), path("${prefix}_rna_qc.tsv"), emit: qc_table
    tuple val(meta), path("${prefix}_rna_qc_*.png"), emit: plots, optional: true
    path "versions.yml", emit: versions, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    scact_rna_qc.py \\
        --input ${rna} \\
        --sample ${prefix} \\
        ${args} \\
        --outdir . \\
        --task-name "${task.process}"
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}_rna_qc.h5ad ${prefix}_rna_qc.tsv versions.yml
    """
}
