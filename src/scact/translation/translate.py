"""The ``scact translate`` step: a trained model's translations both ways and the joint embedding, on disk.

RNA->ATAC translations are streamed block by block into ``rna_to_atac.h5ad`` by
:func:`scact.io.translated.write_translated_accessibility` (sampled profiles in X, probabilities in the
form that fits the size), so no step ever holds a dense cells x peaks matrix.
"""
from __future__ import annotations

import logging
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from scact.io.provenance import record_provenance
from scact.io.translated import DEFAULT_TOP_K, write_translated_accessibility
from scact.translation.plots import plot_joint_embedding

log = logging.getLogger(__name__)


def joint_embedding(z_rna_own, z_atac_in_rna, z_atac_own, z_rna_in_atac, rna_obs: pd.DataFrame,
                    atac_obs: pd.DataFrame, labels_key: str, expression: np.ndarray | None = None,
                    expression_genes=None, n_neighbors: int = 13, seed: int = 0) -> ad.AnnData:
    """Both modalities' cells in the RNA latent space and in the ATAC latent space, with cosine UMAPs.

    ``expression`` (optional, RNA cells then ATAC cells): marker genes to colour by, observed for RNA
    cells and translated for ATAC cells.
    """
    def block(obs, modality):
        frame = pd.DataFrame({"cell": obs.index.astype(str), "modality": modality}, index=None)
        frame["cell_type"] = obs[labels_key].astype(str).to_numpy() if labels_key in obs else "unknown"
        frame.index = [f"{modality}:{name}" for name in obs.index]
        return frame

    obs = pd.concat([block(rna_obs, "rna"), block(atac_obs, "atac")])
    for column in ("modality", "cell_type"):
        obs[column] = obs[column].astype("category")
    if expression is None:
        adata = ad.AnnData(X=np.zeros((len(obs), 0), np.float32), obs=obs)
    else:
        adata = ad.AnnData(X=np.asarray(expression, np.float32), obs=obs,
                           var=pd.DataFrame(index=pd.Index(expression_genes, dtype=str)))
    adata.obsm["X_rna_latent"] = np.vstack([z_rna_own, z_atac_in_rna]).astype(np.float32)
    adata.obsm["X_atac_latent"] = np.vstack([z_rna_in_atac, z_atac_own]).astype(np.float32)
    import umap

    for space in ("rna_latent", "atac_latent"):  # umap-learn directly: scanpy 1.11 + scipy 1.16 break >4k cells
        adata.obsm[f"X_umap_{space}"] = umap.UMAP(n_neighbors=n_neighbors, metric="cosine",
                                                  random_state=seed).fit_transform(adata.obsm[f"X_{space}"])
    return adata


def expression_on(adata, genes) -> np.ndarray:
    """Dense cells x ``genes`` of ``adata.X`` (genes absent from ``adata`` are 0): few genes only."""
    pos = adata.var_names.astype(str).get_indexer(pd.Index(genes).astype(str))
    out = np.zeros((adata.n_obs, len(pos)), dtype=np.float32)
    found = pos >= 0
    if found.any():
        part = adata.X[:, pos[found]]
        out[:, found] = part.toarray() if sp.issparse(part) else np.asarray(part)
    return out


def run_translate(model_dir, rna_path, atac_path, outdir, probabilities="auto", top_k=DEFAULT_TOP_K,
                  labels_key="cell_type",
                  batch_size=512, n_neighbors=13, seed=0, device="cpu", plots=True,
                  translation_depth="matched", translation_neighbours=None) -> dict[str, Path]:
    """The whole ``scact translate`` step; returns the written paths by name.

    Each modality's training cells (all cells without a held-out split, ``obs['split']``) are the
    reference the other's mapped embeddings are decoded among (``translation_neighbours``, None: the
    model's default; 0 decodes the mapped embedding itself), so a held-out cell's translation never
    averages its own partner.
    """
    from scact.errors import input_error
    from scact.io.anndata import read_h5ad, write_h5ad
    from scact.model import SCACT, TRANSLATION_NEIGHBOURS
    from scact.preprocessing.labels import marker_genes
    from scact.preprocessing.split import training_mask

    if translation_neighbours is None:
        translation_neighbours = TRANSLATION_NEIGHBOURS

    if not Path(model_dir).is_dir():
        raise input_error(model_dir, "model folder not found", "pass the output folder of scact train")
    model = SCACT.load(str(model_dir), device=device)
    # the model aligns inputs to its features itself (genes by name, peaks by overlap; absent = 0)
    rna, atac = read_h5ad(rna_path), read_h5ad(atac_path)
    rna_reference, atac_reference = rna[training_mask(rna)], atac[training_mask(atac)]
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    params = {"model": str(model_dir), "rna": str(rna_path), "atac": str(atac_path), "seed": seed,
              "batch_size": batch_size, "translation_depth": translation_depth,
              "translation_neighbours": translation_neighbours}
    written = {}

    log.info("RNA->ATAC for %d cells x %d peaks", rna.n_obs, len(model.peaks))
    written["rna_to_atac"] = outdir / "rna_to_atac.h5ad"
    form = write_translated_accessibility(
        model.translated_blocks(rna, "rna_to_atac", batch_size=batch_size, depth=translation_depth,
                                reference=atac_reference, neighbours=translation_neighbours),
        rna.obs, model.peaks, written["rna_to_atac"], probabilities=probabilities, top_k=top_k, seed=seed,
        params=params)
    log.info("RNA->ATAC probabilities stored as %s", form)

    log.info("ATAC->RNA for %d cells", atac.n_obs)
    atac_to_rna = model.translate_atac_to_rna(atac, batch_size=batch_size, depth=translation_depth,
                                              reference=rna_reference, neighbours=translation_neighbours,
                                              provenance=params)
    translated = atac_to_rna.X
    written["atac_to_rna"] = outdir / "atac_to_rna.h5ad"
    write_h5ad(atac_to_rna, written["atac_to_rna"])

    log.info("joint embedding and UMAPs")
    z_rna = model.get_latent_representation(rna, modality="rna")
    z_atac = model.get_latent_representation(atac, modality="atac")
    labels = rna.obs[labels_key].astype(str).to_numpy() if labels_key in rna.obs else None
    genes = [g for g in model.genes.index if g in set(rna.var_names)]
    gene_columns = rna.var_names.get_indexer(genes)
    # the RNA matrix itself, sparse (no dense cells x genes copy); a column subset only when the model has fewer genes
    expression = rna.X if np.array_equal(gene_columns, np.arange(rna.n_vars)) else rna.X[:, gene_columns]
    markers = (marker_genes(expression, genes, labels, statistic="welch_t") if labels is not None
               and len(set(labels)) > 1 else [])
    marker_pos = model.genes.index.get_indexer(markers)
    observed = expression_on(rna, markers)
    joint = joint_embedding(z_rna, model.map_latent(z_atac, direction="atac_to_rna"), z_atac,
                            model.map_latent(z_rna, direction="rna_to_atac"), rna.obs, atac.obs, labels_key,
                            expression=np.vstack([observed, translated[:, marker_pos]]),
                            expression_genes=markers, n_neighbors=n_neighbors, seed=seed)
    record_provenance(joint, "translate_joint_embedding", {**params, "n_neighbors": n_neighbors,
                                                           "metric": "cosine"})
    written["joint_embedding"] = outdir / "joint_embedding.h5ad"
    write_h5ad(joint, written["joint_embedding"])
    if plots:
        plot_joint_embedding(joint, outdir, markers=markers[:6])
    return written
