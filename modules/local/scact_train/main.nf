// Train scACT on the unpaired training matrices -> model/ (weights + metadata), training_history.csv, loss_curves.png.
process SCACT_TRAIN {
    tag "${meta.id}"
    label 'process_gpu'

    input:
    tuple val(meta), path(rna), path(atac)
    path annotation // TSS BED or GTF, or [] (for --link_weight)

    output:
    tuple val(meta), path("model"), emit: model
    tuple val(meta), path("training_history.csv"), emit: history
    tuple val(meta), path("loss_curves.png"), emit: loss_curves
    path "versions.yml", emit: versions, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def device = task.accelerator ? 'cuda' : 'cpu'
    def annotation_arg = annotation ? "--annotation ${annotation}" : ''
    """
    scact_train.py \\
        --rna ${rna} \\
        --atac ${atac} \\
        ${annotation_arg} \\
        --outdir . \\
        --threads ${task.cpus} \\
        --device ${device} \\
        --no-progress \\
        ${args} \\
        --task-name "${task.process}"
    """

    stub:
    """
    mkdir -p model
    touch model/model.pt model/model.json training_history.csv loss_curves.png versions.yml
    """
}
