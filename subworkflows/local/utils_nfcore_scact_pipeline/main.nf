/*
    Start and end of a run: validate parameters and the samplesheet with nf-schema, collect versions.
*/
include { validateParameters; paramsSummaryLog; samplesheetToList } from 'plugin/nf-schema'

workflow PIPELINE_INITIALISATION {
    take:
    input // string: path to the samplesheet

    main:
    validateParameters()
    log.info paramsSummaryLog(workflow)

    ch_samplesheet = channel
        .fromList(samplesheetToList(input, "${projectDir}/assets/schema_input.json"))

    emit:
    samplesheet = ch_samplesheet // channel: [ val(meta), path(input) ]
}

workflow PIPELINE_COMPLETION {
    take:
    ch_versions // channel: path(versions.yml)
    outdir      // string: where results are published

    main:
    ch_versions
        .collectFile(name: 'software_versions.yml', storeDir: "${outdir}/pipeline_info", newLine: true, sort: true)

    workflow.onComplete {
        log.info(workflow.success ? "scACT finished: results in ${outdir}" : "scACT failed: see the .command.err of the failed task")
    }
}
