// Peak-to-gene links across metacells on observed and translated data (the issue's PEAK2GENE_LINK step).
process SCACT_LINK {
    tag "${meta.id}"
    label 'process_medium'

    input:
    // ig_peaks: the <gene>_ig_peaks.tsv files of SCACT_PERTURB, or []
    tuple val(meta), path(rna), path(atac), path(rna_to_atac), path(atac_to_rna), path(ig_peaks)
    path annotation // TSS BED or GTF
    val genes       // comma-separated, '' for every RNA gene with a TSS

    output:
    tuple val(meta), path("links.tsv"), emit: links
    tuple val(meta), path("links_*.bedpe"), emit: bedpe
    tuple val(meta), path("links_*.interact"), emit: interact
    tuple val(meta), path("link_genes.tsv"), emit: genes
    tuple val(meta), path("link_agreement.tsv"), emit: agreement
    tuple val(meta), path("*_links.png"), emit: plots, optional: true
    path "versions.yml", emit: versions, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def genes_arg = genes ? "--genes '${genes}'" : ''
    """
    scact_link.py \\
        --rna ${rna} \\
        --atac ${atac} \\
        --annotation ${annotation} \\
        --rna-to-atac ${rna_to_atac} \\
        --atac-to-rna ${atac_to_rna} \\
        ${genes_arg} \\
        --ig-dir . \\
        --outdir . \\
        ${args} \\
        --task-name "${task.process}"
    """

    stub:
    """
    touch links.tsv links_observed.bedpe links_observed.interact link_genes.tsv link_agreement.tsv versions.yml
    """
}
