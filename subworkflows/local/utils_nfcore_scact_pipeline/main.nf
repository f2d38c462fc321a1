/*
    Start and end of a run. At the start: --help and --version, the parameter summary (both read from
    nextflow_schema.json), then SCACT_VALIDATE checks the parameters and the samplesheet with the
    project's own validator (no Nextflow plugin: the pipeline starts offline) and gives the rows.
    At the end: every step's versions.yml collected into pipeline_info/software_versions.yml.
*/
include { SCACT_VALIDATE } from '../../../modules/local/scact_validate/main'

workflow PIPELINE_INITIALISATION {
    take:
    input // string: path to the samplesheet

    main:
    def schema = new groovy.json.JsonSlurper().parse(file("${projectDir}/nextflow_schema.json"))
    if (params.help) {
        log.info(paramsHelp(schema))
        System.exit(0)
    }
    if (params.version) {
        log.info("${workflow.manifest.name} ${workflow.manifest.version}")
        System.exit(0)
    }
    if (!input) {
        error("--input is required: a samplesheet CSV (see docs/usage.md), or --help for every parameter")
    }
    log.info(paramsSummary(schema))

    // trace_report_suffix (a time stamp) is left out so that -resume finds the checked rows again.
    def checked = params.validate_params ? params.findAll { name, _value -> name != 'trace_report_suffix' } : [:]
    def sheet = file(input, checkIfExists: true)
    SCACT_VALIDATE(
        channel.of([ [id: 'all'], sheet, localFilesToCheck(sheet, params.annotation) ]),
        groovy.json.JsonOutput.toJson(checked),
        workflow.launchDir.toString()
    )
    ch_rows = SCACT_VALIDATE.out.samplesheet.flatMap { _meta, rows -> new groovy.json.JsonSlurper().parse(rows) }
        .map { row ->
            def meta = [id: row.sample, modality: row.modality, batch: row.batch, labels: row.labels,
                        input_format: row.input_format]
            [ meta, row ]
        }

    emit:
    // [ val(meta), path(input), path(input index), path(labels file) ], one per row ([] when absent)
    samplesheet = ch_rows.map { meta, row -> [ meta, file(row.input), optionalFile(row.input_index), optionalFile(row.labels_file) ] }
    // [ val(meta), path(fragments), path(fragments index), path(per-barcode metrics) ], one per ATAC row
    atac_files  = ch_rows
        .filter { meta, _row -> meta.modality != 'rna' }
        .map { meta, row -> [ meta, optionalFile(row.fragments), optionalFile(row.fragments_index), optionalFile(row.cell_metrics) ] }
    params_json = SCACT_VALIDATE.out.params // [ val(meta), path(params.json) ]
}

workflow PIPELINE_COMPLETION {
    take:
    outdir          // string: where results are published
    report_versions // channel: path(versions.yml) of the report (not on the versions topic)

    main:
    channel.topic('versions')
        .mix(report_versions)
        .collectFile(name: 'software_versions.yml', storeDir: "${outdir}/pipeline_info", newLine: true, sort: true)

    workflow.onComplete {
        log.info(completionMessage(outdir))
    }
}

def completionMessage(outdir) {
    return workflow.success ? "scACT finished: results in ${outdir}" : "scACT failed: see the .command.err of the failed task"
}

/*
    The local files the check reads: those the samplesheet's input, fragments and labels columns name
    (relative paths from the launch directory) and the annotation. The check reads them where they are;
    staging them makes a container engine mount them. Remote files are left out (they would be downloaded).
*/
def localFilesToCheck(sheet, annotation) {
    def named = sheet.splitCsv(header: true)
        .collectMany { row -> [ row.input, row.fragments, row.labels ].findAll { value -> value && !value.startsWith('obs:') } }
    return (named + (annotation ? [ annotation.toString() ] : []))
        .collect { value -> file(value.trim()) }
        .findAll { path -> path.scheme == 'file' }
        .unique()
}

// A file named by a checked row, or [] (an absent optional input of a process).
def optionalFile(path) {
    return path ? file(path) : []
}

/*
    One item over all samples, for the steps that take every sample at once:
    [ [id: 'all'], [ file of each sample, ordered by sample id ] ] (the local runner's order).
*/
def allSamples(ch_per_sample) {
    return ch_per_sample
        .toSortedList { a, b -> a[0].id <=> b[0].id }
        .map { items -> [ [id: 'all'], items.collect { item -> item[1] } ] }
}

// `--help`: every parameter that is not hidden, by group, from nextflow_schema.json.
def paramsHelp(schema) {
    def lines = [
        "Usage: nextflow run scact/scact -profile <docker|singularity|...> --input samplesheet.csv --outdir results",
        "Parameters (nextflow_schema.json; docs/parameters.md):"
    ]
    schema['$defs'].each { _group, definition ->
        lines << "\n${definition.title}:"
        definition.properties.each { name, spec ->
            if (!spec.hidden) {
                def shown = spec.default != null ? " [default: ${spec.default}]" : ''
                lines << "  --${name.padRight(28)} ${spec.description}${shown}"
            }
        }
    }
    return lines.join('\n')
}

// The parameters that differ from the schema's defaults, by group.
def paramsSummary(schema) {
    def lines = ["${workflow.manifest.name} ${workflow.manifest.version}: parameters that differ from the defaults"]
    schema['$defs'].each { _group, definition ->
        def changed = definition.properties.findAll { name, spec ->
            params[name] != null && params[name] != '' && "${params[name]}" != "${spec.default}"
        }
        if (changed) {
            lines << "${definition.title}:"
            changed.each { name, _spec -> lines << "  ${name.padRight(28)}: ${params[name]}" }
        }
    }
    lines << "  (profile ${workflow.profile}, launch directory ${workflow.launchDir})"
    return lines.join('\n')
}
