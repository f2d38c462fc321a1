// The run report: one self-contained HTML file, the PNG/TSV behind each figure, MultiQC custom content.
process SCACT_REPORT {
    tag "report"
    label 'process_single'

    input:
    path(results, stageAs: "results/*")
    path(samplesheet)
    path(params_json)
    path(versions)

    output:
    path "scact_report.html", emit: html
    path "report_figures/*.png", emit: figures, optional: true
    path "report_tables/*.tsv", emit: tables, optional: true
    path "*_mqc.{tsv,yaml}", emit: multiqc, optional: true
    path "versions.yml", emit: versions

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
