// The pipeline's first step: parameters against nextflow_schema.json and the samplesheet against
// assets/schema_input.json (scact.pipeline.resolve_params, scact.io.samplesheet: the checks and messages
// of scact run) -> the checked rows with the files each brings, and the parameters as params.json.
process SCACT_VALIDATE {
    tag "${meta.id}"
    label 'process_single'

    input:
    // row_files: the local files the rows name, staged only so that container engines mount them
    tuple val(meta), path(samplesheet), path(row_files, stageAs: "rows/??/*")
    val params_json // the pipeline parameters as JSON text
    val base_dir    // where relative samplesheet paths start from (the launch directory)

    output:
    tuple val(meta), path("samplesheet.valid.json"), emit: samplesheet
    tuple val(meta), path("params.json"), emit: params
    path "versions.yml", emit: versions, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    """
    cat <<'SCACT_PARAMS' > params.json
    ${params_json}
    SCACT_PARAMS
    scact_validate.py \\
        --input ${samplesheet} \\
        --params params.json \\
        --base-dir '${base_dir}' \\
        --output samplesheet.valid.json \\
        ${args} \\
        --task-name "${task.process}"
    """

    stub:
    // The real check even in a stub run: it is quick, and the rows it writes drive the whole run.
    """
    cat <<'SCACT_PARAMS' > params.json
    ${params_json}
    SCACT_PARAMS
    scact_validate.py --input ${samplesheet} --params params.json --base-dir '${base_dir}' \\
        --output samplesheet.valid.json --task-name "${task.process}"
    """
}
