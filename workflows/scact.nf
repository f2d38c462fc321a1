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
include { SCACT_TRANSLATE    } from '../modules/local/scact_translate/main'
include { SCACT_EVALUATE     } from '../modules/local/scact_evaluate/main'
include { SCACT_PERTURB      } from '../modules/local/scact_perturb/main'
include { SCACT_LINK         } from '../modules/local/scact_link/main'
include { SCACT_MOTIFS       } from '../modules/local/scact_motifs/main'
include { SCACT_REPORT       } from '../modules/local/scact_report/main'

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
    genes          // string: genes for integrated gradients, comma-separated, or null
    genome_fasta   // path: genome FASTA for the motif scan, or []
    samplesheet    // path: the samplesheet, shown in the report

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

    // Translation both ways, the joint embedding, and metrics against baselines
    SCACT_TRANSLATE(SCACT_TRAIN.out.model, SCACT_RECONCILE.out.rna, SCACT_RECONCILE.out.atac)
    SCACT_EVALUATE(
        SCACT_RECONCILE.out.rna, SCACT_RECONCILE.out.atac,
        SCACT_TRANSLATE.out.rna_to_atac, SCACT_TRANSLATE.out.atac_to_rna, SCACT_TRANSLATE.out.joint_embedding,
        SCACT_ATAC_PROCESS.out.gene_activity
    )
    ch_versions = ch_versions.mix(SCACT_TRANSLATE.out.versions, SCACT_EVALUATE.out.versions)

    // Which peaks drive the requested genes (integrated gradients), peak-to-gene links, motifs
    ch_ig_peaks = channel.value([])
    if (genes) {
        SCACT_PERTURB(SCACT_TRAIN.out.model, SCACT_RECONCILE.out.atac, annotation, genes)
        ch_ig_peaks = SCACT_PERTURB.out.peaks.ifEmpty([])
        ch_versions = ch_versions.mix(SCACT_PERTURB.out.versions)
    }
    if (annotation) {
        SCACT_LINK(
            SCACT_RECONCILE.out.rna, SCACT_RECONCILE.out.atac, annotation,
            SCACT_TRANSLATE.out.rna_to_atac, SCACT_TRANSLATE.out.atac_to_rna, ch_ig_peaks, genes ?: ''
        )
        ch_versions = ch_versions.mix(SCACT_LINK.out.versions)
    }
    SCACT_MOTIFS(SCACT_RECONCILE.out.atac, genome_fasta, SCACT_TRANSLATE.out.rna_to_atac, SCACT_RECONCILE.out.rna)
    ch_versions = ch_versions.mix(SCACT_MOTIFS.out.versions)

    // One report over every result
    ch_report_inputs = channel.empty()
        .mix(
            SCACT_RNA_QC.out.qc_table.map { _meta, table -> table },
            SCACT_RNA_QC.out.h5ad.map { _meta, h5ad -> h5ad },
            SCACT_ATAC_QC.out.qc_table.map { _meta, table -> table },
            SCACT_ATAC_QC.out.h5ad.map { _meta, h5ad -> h5ad },
            SCACT_CALL_PEAKS.out.peaks,
            SCACT_RECONCILE.out.rna, SCACT_RECONCILE.out.atac, SCACT_RECONCILE.out.report,
            SCACT_TRAIN.out.model, SCACT_TRAIN.out.history,
            SCACT_TRANSLATE.out.rna_to_atac, SCACT_TRANSLATE.out.atac_to_rna, SCACT_TRANSLATE.out.joint_embedding,
            SCACT_EVALUATE.out.metrics, SCACT_EVALUATE.out.per_type, SCACT_EVALUATE.out.roc_curves,
            ch_ig_peaks.flatten(),
            annotation ? SCACT_LINK.out.links : channel.empty(),
            annotation ? SCACT_LINK.out.agreement : channel.empty()
        )
        .collect()
    ch_params_json = channel.value(groovy.json.JsonOutput.prettyPrint(groovy.json.JsonOutput.toJson(params)))
        .collectFile(name: 'params.json')
    ch_versions_yml = ch_versions.collectFile(name: 'software_versions.yml', newLine: true, sort: true)
    SCACT_REPORT(ch_report_inputs, samplesheet, ch_params_json, ch_versions_yml)

    emit:
    rna      = SCACT_RECONCILE.out.rna  // path: rna.h5ad, the RNA training matrix
    atac     = SCACT_RECONCILE.out.atac // path: atac.h5ad, the ATAC training matrix
    model    = SCACT_TRAIN.out.model    // path: model/, the trained scACT model
    report   = SCACT_REPORT.out.html    // path: scact_report.html
    versions = ch_versions              // channel: path(versions.yml)
}
