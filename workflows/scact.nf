/*
    The scACT workflow: parse every samplesheet row into .h5ad files of raw counts.
    The local runner (scact run, src/scact/pipeline.py) runs the same processes in the same order;
    tests/test_pipeline.py checks that both agree.
*/
include { SCACT_PARSE } from '../modules/local/scact_parse/main'

workflow SCACT {
    take:
    ch_samplesheet // channel: [ val(meta), path(input) ] one item per samplesheet row

    main:
    ch_versions = channel.empty()

    ch_parse_input = ch_samplesheet.map { meta, input ->
        def index = input.name.endsWith('.gz') ? file("${input}.tbi") : []
        def labels = meta.labels && !meta.labels.startsWith('obs:') ? file(meta.labels) : []
        [ meta, input, index, labels ]
    }
    SCACT_PARSE(ch_parse_input)
    ch_versions = ch_versions.mix(SCACT_PARSE.out.versions)

    emit:
    rna      = SCACT_PARSE.out.rna  // channel: [ val(meta), path(h5ad) ]
    atac     = SCACT_PARSE.out.atac // channel: [ val(meta), path(h5ad) ]
    versions = ch_versions          // channel: path(versions.yml)
}
