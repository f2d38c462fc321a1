/*
    RNA: cell QC per sample, then normalisation, HVGs, clusters and labels over all samples.
*/
include { SCACT_RNA_QC      } from '../../../modules/local/scact_rna_qc/main'
include { SCACT_RNA_PROCESS } from '../../../modules/local/scact_rna_process/main'
include { allSamples        } from '../utils_nfcore_scact_pipeline/main'

workflow RNA_PREPROCESSING {
    take:
    ch_rna // channel: [ val(meta), path(<sample>_rna.h5ad) ] per sample

    main:
    SCACT_RNA_QC(ch_rna)
    SCACT_RNA_PROCESS(allSamples(SCACT_RNA_QC.out.h5ad), [])

    emit:
    h5ad     = SCACT_RNA_PROCESS.out.h5ad // [ val(meta), path(rna_processed.h5ad) ], meta [id: 'all']
    qc_h5ad  = SCACT_RNA_QC.out.h5ad      // [ val(meta), path(<sample>_rna_qc.h5ad) ] per sample
    qc_table = SCACT_RNA_QC.out.qc_table  // [ val(meta), path(<sample>_rna_qc.tsv) ] per sample
}
