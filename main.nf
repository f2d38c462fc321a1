#!/usr/bin/env nextflow
/*
    scACT: cross-modality translation between unpaired single-cell RNA-seq and ATAC-seq.
    https://github.com/scact/scact  (see README.md and docs/usage.md)
*/
include { SCACT } from './workflows/scact'
include { PIPELINE_INITIALISATION; PIPELINE_COMPLETION } from './subworkflows/local/utils_nfcore_scact_pipeline'

workflow {
    main:
    PIPELINE_INITIALISATION(params.input)
    SCACT(
        PIPELINE_INITIALISATION.out.samplesheet,
        params.annotation ? file(params.annotation, checkIfExists: true) : [],
        params.genes,
        params.genome_fasta ? file(params.genome_fasta, checkIfExists: true) : [],
        file(params.input, checkIfExists: true)
    )
    PIPELINE_COMPLETION(SCACT.out.versions, params.outdir)
}
