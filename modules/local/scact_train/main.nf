// Train scACT on the unpaired training matrices -> model/ (weights + metadata), training_history.csv, loss_curves.png.
process SCACT_TRAIN {
    tag "scact"
    label 'process_gpu'

    input:
    path rna
    path atac

    output:
    path "model", emit: model
    path "training_history.csv", emit: history
    path "loss_curves.png", emit: loss_curves
    path "versions.yml", emit: versions

    script:
    def args = task.ext.args ?: ''
    """
    scact_train.py \\
        --rna ${rna} \\
        --atac ${atac} \\
        --outdir . \\
        --threads ${task.cpus} \\
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
