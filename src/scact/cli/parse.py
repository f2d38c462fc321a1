"""Parse one samplesheet row into per-modality .h5ad files of raw counts (<sample>_rna.h5ad, <sample>_atac.h5ad)."""
from __future__ import annotations

from pathlib import Path

from scact.io.anndata import write_h5ad
from scact.io.inputs import fragments_of, read_modality, standardize
from scact.io.provenance import record_provenance
from scact.io.samplesheet import FORMATS_BY_MODALITY, detect_input_format


def add_arguments(parser) -> None:
    parser.add_argument("--sample", required=True, help="sample id (letters, digits, _ . -)")
    parser.add_argument("--modality", required=True, choices=sorted(FORMATS_BY_MODALITY),
                        help="what the input gives: multiome (both), rna or atac")
    parser.add_argument("--input", required=True, type=Path,
                        help="CellRanger-arc or CellRanger-ATAC folder, 10x .h5, 10x mtx folder, .h5ad, .h5mu or "
                             "fragments .tsv.gz")
    parser.add_argument("--batch", default=None, help="batch name (default: the sample id)")
    parser.add_argument("--labels", default=None, help="obs:<column> of the input, or a CSV/TSV file barcode,label")
    parser.add_argument("--outdir", type=Path, default=Path("."), help="folder to write into")


def run(args) -> None:
    from scact.errors import input_error

    fmt = detect_input_format(args.input)
    if fmt not in FORMATS_BY_MODALITY[args.modality]:
        raise input_error(args.input, f"a {fmt} input cannot give modality '{args.modality}'")
    modalities = ("rna", "atac") if args.modality == "multiome" else (args.modality,)
    params = {k: getattr(args, k) for k in ("sample", "modality", "input", "batch", "labels")}
    args.outdir.mkdir(parents=True, exist_ok=True)
    for modality in modalities:
        adata = read_modality(args.input, fmt, modality)
        adata = standardize(adata, args.sample, args.batch or args.sample, args.labels)
        if modality == "atac":
            fragments = fragments_of(args.input, fmt)
            if fragments is not None:
                adata.uns["fragments"] = fragments.name
        adata.uns["input_format"] = fmt
        record_provenance(adata, "parse", params)
        write_h5ad(adata, args.outdir / f"{args.sample}_{modality}.h5ad")
