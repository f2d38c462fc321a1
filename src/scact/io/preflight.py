"""Checks ``scact run`` makes before step 1, so that a mismatched annotation is named at once and not
after minutes of QC: the annotation must share chromosome names with every fragments file and gene
names with every RNA input. The steps check the same again (ATAC QC: chromosomes and TSS signal;
reconcile: genes), so Nextflow runs refuse the same inputs."""
from __future__ import annotations

import logging
import warnings
from pathlib import Path

from scact.errors import ScactInputError
from scact.io.annotation import check_chromosomes, check_gene_overlap, read_annotation
from scact.io.fragments import fragment_contigs
from scact.io.inputs import ARC_MATRIX
from scact.io.samplesheet import SampleRow
from scact.io.tenx import feature_names

log = logging.getLogger(__name__)


def rna_gene_names(row: SampleRow) -> list[str] | None:
    """Gene names of a row's RNA input, read without its matrix; None where they cannot be read cheaply
    (the parse step then reports what is wrong with the file)."""
    try:
        if row.input_format == "cellranger_arc":
            return feature_names(row.input / ARC_MATRIX, "rna")
        if row.input_format in ("10x_h5", "10x_mtx"):
            return feature_names(row.input, "rna")
        if row.input_format == "h5ad":
            import anndata as ad

            return list(ad.read_h5ad(row.input, backed="r").var_names)
        if row.input_format == "h5mu":
            import mudata

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return list(mudata.read_h5mu(row.input, backed=True).mod["rna"].var_names)
    except (ScactInputError, OSError, KeyError, ValueError) as err:
        log.debug("%s: gene names not read before the run (%s)", row.input, err)
    return None


def check_annotation(annotation: Path, rows: list[SampleRow]) -> None:
    """Refuse an annotation whose chromosomes miss a fragments file's or whose genes miss an RNA input's."""
    genes = read_annotation(annotation)
    for row in rows:
        if row.fragments is not None:
            check_chromosomes(annotation, genes, row.fragments, fragment_contigs(row.fragments))
        if "rna" in row.modalities:
            names = rna_gene_names(row)
            if names:
                check_gene_overlap(annotation, genes["gene"], row.input, names)
