// Peak-to-gene links across metacells on observed and translated data (the issue's PEAK2GENE_LINK step).
process SCACT_LINK {
    tag "link"
    label 'process_medium'

    input:
    path rna
    path atac
    path annotation
    path rna_to_atac   // [] when absent
    path atac_to_rna   // [] when absent
    path ig_peaks      // <gene>_ig_peaks.tsv files of SCACT_PERTURB, [] when absent
    val genes          // comma-separated, '' for every RNA gene with a TSS

    output:
    path "links.tsv", emit: links
    path "links_*.bedpe", emit: bedpe
    path "links_*.interact", emit: interact
    path "link_genes.tsv", emit: genes
    path "link_agreement.tsv", emit: agreement
    path "*_links.png", emit: plots, optional: true
    path "versions.yml", emit: versions

    script:
    def args = task.ext.args ?: ''
    def rna_to_atac_arg = rna_to_atac ? "--rna-to-atac ${rna_to_atac}" : ''
    def atac_to_rna_arg = atac_to_rna ? "--atac-to-rna ${atac_to_rna}" : ''
    def genes_arg = genes ? "--genes '${genes}'" : ''
    """
    scact_link.py \\
        --rna ${rna} \\
        --atac ${atac} \\
        --annotation ${annotation} \\
        ${rna_to_atac_arg} \\
        ${atac_to_rna_arg} \\
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
