#!/usr/bin/env nextflow
/*
    scACT: cross-modality translation between unpaired single-cell RNA-seq and ATAC-seq.
    https://github.com/scact/scact  (see README.md and docs/usage.md)
    No Nextflow plugin is needed: parameters and samplesheet are checked by the pipeline's first step.
*/
include { SCACT } from './workflows/scact'
include { PIPELINE_INITIALISATION; PIPELINE_COMPLETION } from './subworkflows/local/utils_nfcore_scact_pipeline'

workflow {
    main:
    PIPELINE_INITIALISATION(params.input)
    SCACT(
        PIPELINE_INITIALISATION.out.samplesheet,
        PIPELINE_INITIALISATION.out.atac_files,
        PIPELINE_INITIALISATION.out.params_json,
        params.annotation ? file(params.annotation, checkIfExists: true) : [],
        params.genes,
        params.genome_fasta ? file(params.genome_fasta, checkIfExists: true) : [],
        file(params.input, checkIfExists: true)
    )
    PIPELINE_COMPLETION(params.outdir, SCACT.out.report_versions)
}
