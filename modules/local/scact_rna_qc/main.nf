// RNA cell QC of one sample: UMIs, genes, mitochondrial percent, DoubletDetection doublets.
process SCACT_RNA_QC {
    tag "${meta.id}"
    label 'process_low'

    input:
    tuple val(meta), path(rna)

    output:
    tuple val(meta), path("${meta.id}_rna_qc.h5ad"), emit: h5ad
    tuple val(meta), path("${meta.id}_rna_qc.tsv"), emit: qc_table
    tuple val(meta), path("${meta.id}_rna_qc_*.png"), emit: plots, optional: true
    path "versions.yml", emit: versions

    script:
    def args = task.ext.args ?: ''
    """
    scact_rna_qc.py \\
        --input ${rna} \\
        --sample ${meta.id} \\
        ${args} \\
        --outdir . \\
        --task-name "${task.process}"
    """

    stub:
    """
    touch ${meta.id}_rna_qc.h5ad ${meta.id}_rna_qc.tsv versions.yml
    """
}
