/*
    The scACT workflow. The local runner (scact run, src/scact/pipeline.py) runs the same processes in the
    same order (the step table, src/scact/steps.py); tests/test_pipeline.py checks that both agree.
    Every channel item is [ val(meta), file(s)... ]: meta of the sample for per-sample steps,
    [id: 'all'] for the steps over all samples.
*/
include { SCACT_PARSE        } from '../modules/local/scact_parse/main'
include { RNA_PREPROCESSING  } from '../subworkflows/local/rna_preprocessing/main'
include { ATAC_PREPROCESSING } from '../subworkflows/local/atac_preprocessing/main'
include { SCACT_RECONCILE    } from '../modules/local/scact_reconcile/main'
include { SCACT_TRAIN        } from '../modules/local/scact_train/main'
include { SCACT_TRANSLATE    } from '../modules/local/scact_translate/main'
include { SCACT_EVALUATE     } from '../modules/local/scact_evaluate/main'
include { REGULATION         } from '../subworkflows/local/regulation/main'
include { SCACT_REPORT       } from '../modules/local/scact_report/main'

workflow SCACT {
    take:
    ch_samplesheet // channel: [ val(meta), path(input), path(index), path(labels) ] per samplesheet row
    ch_atac_files  // channel: [ val(meta), path(fragments), path(index), path(per-barcode metrics) ] per ATAC row
    ch_params_json // channel: [ val(meta), path(JSON) ] the checked parameters
    annotation     // path: TSS BED or GTF, or [] (only peak-count ATAC inputs)
    genes          // string: genes for integrated gradients, comma-separated, or null
    genome_fasta   // path: genome FASTA for the motif scan, or []
    samplesheet    // path: the samplesheet, shown in the report

    main:
    // Inputs -> per-sample .h5ad of raw counts, then each modality's preprocessing
    SCACT_PARSE(ch_samplesheet)
    RNA_PREPROCESSING(SCACT_PARSE.out.rna)
    ATAC_PREPROCESSING(SCACT_PARSE.out.atac, ch_atac_files, annotation)

    // Shared cell-type vocabulary and the training inputs rna.h5ad and atac.h5ad
    SCACT_RECONCILE(
        RNA_PREPROCESSING.out.h5ad.join(ATAC_PREPROCESSING.out.h5ad).join(ATAC_PREPROCESSING.out.gene_activity),
        []
    )
    ch_training = SCACT_RECONCILE.out.rna.join(SCACT_RECONCILE.out.atac)

    // The model: autoencoders, then mapping and per-type discriminators (GPU when the profile gives one)
    SCACT_TRAIN(ch_training, params.link_weight > 0 ? annotation : [])

    // Translation both ways, the joint embedding, and metrics against baselines
    SCACT_TRANSLATE(SCACT_TRAIN.out.model.join(ch_training))
    ch_translations = SCACT_TRANSLATE.out.rna_to_atac.join(SCACT_TRANSLATE.out.atac_to_rna)
    SCACT_EVALUATE(
        ch_training.join(ch_translations).join(SCACT_TRANSLATE.out.joint_embedding).join(ATAC_PREPROCESSING.out.gene_activity)
    )

    // Peaks that drive genes, peak-to-gene links, motifs
    REGULATION(SCACT_TRAIN.out.model, ch_training, ch_translations, annotation, genes, genome_fasta)

    // One report over every result
    ch_report_files = channel.empty()
        .mix(
            RNA_PREPROCESSING.out.qc_table, RNA_PREPROCESSING.out.qc_h5ad,
            ATAC_PREPROCESSING.out.qc_table, ATAC_PREPROCESSING.out.qc_h5ad, ATAC_PREPROCESSING.out.peaks,
            SCACT_RECONCILE.out.rna, SCACT_RECONCILE.out.atac, SCACT_RECONCILE.out.report,
            SCACT_TRAIN.out.model, SCACT_TRAIN.out.history,
            SCACT_TRANSLATE.out.rna_to_atac, SCACT_TRANSLATE.out.atac_to_rna, SCACT_TRANSLATE.out.joint_embedding,
            SCACT_EVALUATE.out.metrics, SCACT_EVALUATE.out.per_type, SCACT_EVALUATE.out.roc_curves,
            REGULATION.out.report
        )
        .map { _meta, files -> files }
        .collect(sort: { a, b -> a.name <=> b.name })
        .map { files -> [ [id: 'all'], files ] }
    SCACT_REPORT(
        ch_report_files,
        samplesheet,
        ch_params_json.map { _meta, json -> json },
        channel.topic('versions').collectFile(name: 'software_versions.yml', newLine: true, sort: true)
    )

    emit:
    rna             = SCACT_RECONCILE.out.rna   // [ val(meta), path(rna.h5ad) ], the RNA training matrix
    atac            = SCACT_RECONCILE.out.atac  // [ val(meta), path(atac.h5ad) ], the ATAC training matrix
    model           = SCACT_TRAIN.out.model     // [ val(meta), path(model/) ], the trained scACT model
    report          = SCACT_REPORT.out.html     // [ val(meta), path(scact_report.html) ]
    report_versions = SCACT_REPORT.out.versions // path(versions.yml) of the report
}
