// Trained model + rna.h5ad + atac.h5ad -> translations both ways and the joint embedding (UMAP PNGs).
process SCACT_TRANSLATE {
    tag "${meta.id}"
    label 'process_gpu'

    input:
    tuple val(meta), path(model), path(rna), path(atac)

    output:
    tuple val(meta), path("rna_to_atac.h5ad"), emit: rna_to_atac
    tuple val(meta), path("atac_to_rna.h5ad"), emit: atac_to_rna
    tuple val(meta), path("joint_embedding.h5ad"), emit: joint_embedding
    tuple val(meta), path("umap_*.png"), emit: plots, optional: true
    path "versions.yml", emit: versions, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def device = task.accelerator ? 'cuda' : 'cpu'
    """
    scact_translate.py \\
        --model ${model} \\
        --rna ${rna} \\
        --atac ${atac} \\
        --device ${device} \\
        ${args} \\
        --task-name "${task.process}"
    """

    stub:
    """
    touch rna_to_atac.h5ad atac_to_rna.h5ad joint_embedding.h5ad umap_rna_latent_modality.png versions.yml
    """
}
