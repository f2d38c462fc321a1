/*
    ATAC: cell QC per sample, peaks over all samples with fragments, peak matrices per sample, then
    binarisation, TF-IDF peaks, LSI and clusters over all samples.
*/
include { SCACT_ATAC_QC      } from '../../../modules/local/scact_atac_qc/main'
include { SCACT_CALL_PEAKS   } from '../../../modules/local/scact_call_peaks/main'
include { SCACT_ATAC_MATRIX  } from '../../../modules/local/scact_atac_matrix/main'
include { SCACT_ATAC_PROCESS } from '../../../modules/local/scact_atac_process/main'
include { allSamples         } from '../utils_nfcore_scact_pipeline/main'

workflow ATAC_PREPROCESSING {
    take:
    ch_atac       // channel: [ val(meta), path(<sample>_atac.h5ad) ] per sample
    ch_atac_files // channel: [ val(meta), path(fragments), path(index), path(per-barcode metrics) ] per sample, [] when absent
    annotation    // path: TSS BED or GTF, or []

    main:
    // The meta of each sample is the key that brings its files back to it (no re-keying by id).
    ch_fragments = ch_atac_files.map { meta, fragments, index, _metrics -> [ meta, fragments, index ] }

    SCACT_ATAC_QC(ch_atac.join(ch_atac_files, failOnMismatch: true), annotation)
    ch_qc = SCACT_ATAC_QC.out.h5ad.join(ch_fragments, failOnMismatch: true) // [ meta, qc h5ad, fragments, index ]

    SCACT_CALL_PEAKS(
        ch_qc
            .filter { _meta, _h5ad, fragments, _index -> fragments }
            .toSortedList { a, b -> a[0].id <=> b[0].id }
            .filter { samples -> samples }
            .map { samples -> [ [id: 'all'], samples.collect { s -> s[1] }, samples.collect { s -> s[2] }, samples.collect { s -> s[3] } ] },
        annotation
    )
    SCACT_ATAC_MATRIX(ch_qc, SCACT_CALL_PEAKS.out.peaks.map { _meta, peaks -> peaks }.ifEmpty([]))
    SCACT_ATAC_PROCESS(allSamples(SCACT_ATAC_MATRIX.out.h5ad), annotation)

    emit:
    h5ad          = SCACT_ATAC_PROCESS.out.h5ad          // [ val(meta), path(atac_processed.h5ad) ], meta [id: 'all']
    gene_activity = SCACT_ATAC_PROCESS.out.gene_activity // [ val(meta), path(gene_activity.h5ad) ]
    peaks         = SCACT_CALL_PEAKS.out.peaks           // [ val(meta), path(peaks.bed) ], none without fragments
    qc_h5ad       = SCACT_ATAC_QC.out.h5ad               // [ val(meta), path(<sample>_atac_qc.h5ad) ] per sample
    qc_table      = SCACT_ATAC_QC.out.qc_table           // [ val(meta), path(<sample>_atac_qc.tsv) ] per sample
}
