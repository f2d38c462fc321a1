// The run report: one self-contained HTML file, the PNG/TSV behind each figure, MultiQC custom content.
process SCACT_REPORT {
    tag "${meta.id}"
    label 'process_single'

    input:
    tuple val(meta), path(results, stageAs: "results/*")
    path samplesheet
    path params_json
    path versions // software_versions.yml of every other step

    output:
    tuple val(meta), path("scact_report.html"), emit: html
    tuple val(meta), path("report_figures"), emit: figures, optional: true
    tuple val(meta), path("report_tables"), emit: tables, optional: true
    tuple val(meta), path("*_mqc.{tsv,yaml}"), emit: multiqc, optional: true
    // Not on the versions topic: the report reads that topic, which closes only when its writers end.
    path "versions.yml", emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    """
    scact_report.py \\
        --results results \\
        --samplesheet ${samplesheet} \\
        --params ${params_json} \\
        --versions ${versions} \\
        ${args} \\
        --outdir . \\
        --task-name "${task.process}"
    """

    stub:
    """
    mkdir -p report_figures report_tables
    touch scact_report.html versions.yml
    """
}
