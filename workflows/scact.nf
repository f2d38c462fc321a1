/*
    The scACT workflow. The local runner (scact run, src/scact/pipeline.py) runs the same processes in the
    same order (STEP_ORDER); tests/test_pipeline.py checks that both agree.
*/
include { SCACT_PARSE        } from '../modules/local/scact_parse/main'
include { SCACT_RNA_QC       } from '../modules/local/scact_rna_qc/main'
include { SCACT_RNA_PROCESS  } from '../modules/local/scact_rna_process/main'
include { SCACT_ATAC_QC      } from '../modules/local/scact_atac_qc/main'
include { SCACT_CALL_PEAKS   } from '../modules/local/scact_call_peaks/main'
include { SCACT_ATAC_MATRIX  } from '../modules/local/scact_atac_matrix/main'
include { SCACT_ATAC_PROCESS } from '../modules/local/scact_atac_process/main'
include { SCACT_RECONCILE    } from '../modules/local/scact_reconcile/main'
include { SCACT_TRAIN        } from '../modules/local/scact_train/main'

/*
    The files that come with an ATAC input: [ fragments, its index, CellRanger-arc per-barcode metrics ],
    each [] when absent (peak-count .h5ad or .h5mu inputs have no fragments).
*/
def atacCompanionFiles(input) {
    if (input.isDirectory()) {
        def fragments = input.resolve('atac_fragments.tsv.gz')
        def metrics = input.resolve('per_barcode_metrics.csv')
        return fragments.exists()
            ? [ fragments, file("${fragments}.tbi"), metrics.exists() ? metrics : [] ]
            : [ [], [], [] ]
    }
    if (input.name.endsWith('.tsv.gz') || input.name.endsWith('.tsv.bgz') || input.name.endsWith('.bed.gz')) {
        return [ input, file("${input}.tbi"), [] ]
    }
    return [ [], [], [] ]
}

workflow SCACT {
    take:
    ch_samplesheet // channel: [ val(meta), path(input) ] one item per samplesheet row
    annotation     // path: TSS BED or GTF, or [] (only peak-count ATAC inputs)

    main:
    ch_versions = channel.empty()

    // Inputs -> per-sample .h5ad of raw counts
    ch_parse_input = ch_samplesheet.map { meta, input ->
        def index = input.name.endsWith('.gz') ? file("${input}.tbi") : []
        def labels = meta.labels && !meta.labels.startsWith('obs:') ? file(meta.labels) : []
        [ meta, input, index, labels ]
    }
    SCACT_PARSE(ch_parse_input)
    ch_versions = ch_versions.mix(SCACT_PARSE.out.versions)

    // RNA: cell QC per sample, then normalisation, HVGs, clusters and labels over all samples
    SCACT_RNA_QC(SCACT_PARSE.out.rna)
    SCACT_RNA_PROCESS(SCACT_RNA_QC.out.h5ad.map { _meta, h5ad -> h5ad }.collect(), [])
    ch_versions = ch_versions.mix(SCACT_RNA_QC.out.versions, SCACT_RNA_PROCESS.out.versions)

    // ATAC: cell QC per sample, peaks over all samples with fragments, peak matrices, LSI and clusters
    ch_atac_files = ch_samplesheet
        .filter { meta, _input -> meta.modality != 'rna' }
        .map { meta, input -> [ meta.id ] + atacCompanionFiles(input) }
    SCACT_ATAC_QC(
        SCACT_PARSE.out.atac
            .map { meta, h5ad -> [ meta.id, meta, h5ad ] }
            .join(ch_atac_files)
            .map { _id, meta, h5ad, fragments, index, metrics -> [ meta, h5ad, fragments, index, metrics ] },
        annotation
    )
    ch_atac_qc = SCACT_ATAC_QC.out.h5ad
        .map { meta, h5ad -> [ meta.id, meta, h5ad ] }
        .join(ch_atac_files)
        .map { _id, meta, h5ad, fragments, index, _metrics -> [ meta, h5ad, fragments, index ] }
    SCACT_CALL_PEAKS(
        ch_atac_qc
            .filter { _meta, _h5ad, fragments, _index -> fragments }
            .toSortedList { a, b -> a[0].id <=> b[0].id }
            .filter { samples -> samples.size() > 0 }
            .map { samples -> [ samples.collect { it[1] }, samples.collect { it[2] }, samples.collect { it[3] } ] },
        annotation
    )
    SCACT_ATAC_MATRIX(ch_atac_qc, SCACT_CALL_PEAKS.out.peaks.ifEmpty([]).first())
    SCACT_ATAC_PROCESS(SCACT_ATAC_MATRIX.out.h5ad.map { _meta, h5ad -> h5ad }.collect(), annotation)
    ch_versions = ch_versions.mix(SCACT_ATAC_QC.out.versions, SCACT_CALL_PEAKS.out.versions,
                                  SCACT_ATAC_MATRIX.out.versions, SCACT_ATAC_PROCESS.out.versions)

    // Shared cell-type vocabulary and the training inputs rna.h5ad and atac.h5ad
    SCACT_RECONCILE(SCACT_RNA_PROCESS.out.h5ad, SCACT_ATAC_PROCESS.out.h5ad, SCACT_ATAC_PROCESS.out.gene_activity, [])
    ch_versions = ch_versions.mix(SCACT_RECONCILE.out.versions)

    // The model: autoencoders, then mapping and per-type discriminators (GPU when the profile gives one)
    SCACT_TRAIN(SCACT_RECONCILE.out.rna, SCACT_RECONCILE.out.atac)
    ch_versions = ch_versions.mix(SCACT_TRAIN.out.versions)

    emit:
    rna      = SCACT_RECONCILE.out.rna  // path: rna.h5ad, the RNA training matrix
    atac     = SCACT_RECONCILE.out.atac // path: atac.h5ad, the ATAC training matrix
    model    = SCACT_TRAIN.out.model    // path: model/, the trained scACT model
    versions = ch_versions              // channel: path(versions.yml)
}
