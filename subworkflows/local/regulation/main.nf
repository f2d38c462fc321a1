/*
    Which peaks drive the requested genes (integrated gradients), peak-to-gene links (with an
    annotation), and motif activity in observed and translated ATAC.
*/
include { SCACT_PERTURB } from '../../../modules/local/scact_perturb/main'
include { SCACT_LINK    } from '../../../modules/local/scact_link/main'
include { SCACT_MOTIFS  } from '../../../modules/local/scact_motifs/main'

workflow REGULATION {
    take:
    ch_model        // channel: [ val(meta), path(model) ]
    ch_training     // channel: [ val(meta), path(rna.h5ad), path(atac.h5ad) ]
    ch_translations // channel: [ val(meta), path(rna_to_atac.h5ad), path(atac_to_rna.h5ad) ]
    annotation      // path: TSS BED or GTF, or []
    genes           // string: genes for integrated gradients, comma-separated, or null
    genome_fasta    // path: genome FASTA for the motif scan, or []

    main:
    ch_ig_peaks = channel.of([ [id: 'all'], [] ])
    ch_report = channel.empty()
    if (genes) {
        SCACT_PERTURB(ch_model.join(ch_training.map { meta, _rna, atac -> [ meta, atac ] }), annotation, genes)
        ch_ig_peaks = SCACT_PERTURB.out.peaks.ifEmpty([ [id: 'all'], [] ])
        ch_report = ch_report.mix(SCACT_PERTURB.out.summary, SCACT_PERTURB.out.peaks)
    }
    if (annotation) {
        SCACT_LINK(ch_training.join(ch_translations).join(ch_ig_peaks), annotation, genes ?: '')
        ch_report = ch_report.mix(SCACT_LINK.out.links, SCACT_LINK.out.agreement)
    }
    SCACT_MOTIFS(
        ch_training.join(ch_translations).map { meta, rna, atac, rna_to_atac, _atac_to_rna -> [ meta, atac, rna_to_atac, rna ] },
        genome_fasta
    )

    emit:
    report = ch_report // [ val(meta), path(file(s)) ] the results the report shows
}
