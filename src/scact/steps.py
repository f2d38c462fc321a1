"""The pipeline's steps, defined once.

``STEPS`` has one row per Nextflow process, in the order ``workflows/scact.nf`` calls them: the options the
step gets from the pipeline parameters and the folder of ``--outdir`` it publishes into. The local runner
(``scact.pipeline``) reads the table; Nextflow reads ``conf/modules.config``, which is generated from it,
as are the ``bin/`` scripts (one per command). After editing the table or adding a command, run
``python -m scact.steps`` from the checkout; ``tests/test_pipeline.py`` fails while a generated file is stale.
"""
from __future__ import annotations

import os
import pkgutil
from dataclasses import dataclass
from pathlib import Path

from scact.errors import EXIT_CUDA_OUT_OF_MEMORY


def command_names() -> list[str]:
    """Every command module of ``scact.cli``, in alphabetical order: read from its folder, since the step
    table sits below the command line and must not import it."""
    return sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent / "cli")])
                  if not m.name.startswith("_"))


@dataclass(frozen=True)
class Option:
    """A command-line option of a step whose value is a pipeline parameter."""

    flag: str
    param: str
    #: Groovy expression Nextflow passes instead of ``params.<param>`` (e.g. one that depends on the attempt);
    #: the local runner, which does not retry, passes the parameter.
    nextflow_value: str | None = None


@dataclass(frozen=True)
class Step:
    process: str
    #: Folder of ``--outdir`` the step's results are published into.
    publish_dir: str
    options: tuple[Option, ...] = ()
    #: Per-sample intermediates, published only with ``--save_intermediates``.
    intermediate: bool = False
    #: Further lines of the process's ``withName`` block that only Nextflow needs (retry rules).
    nextflow_only: tuple[str, ...] = ()

    @property
    def command(self) -> str:
        """The ``scact`` command (and ``bin/scact_<command>.py``) the process runs."""
        return self.process.removeprefix("SCACT_").lower()


def _options(*pairs: tuple[str, str]) -> tuple[Option, ...]:
    return tuple(Option(flag, param) for flag, param in pairs)


SEED = ("--seed", "seed")

STEPS: dict[str, Step] = {step.process: step for step in (
    Step("SCACT_PARSE", "parsed", intermediate=True),
    Step("SCACT_RNA_QC", "qc", _options(("--min-umis", "min_umis"), ("--min-genes", "min_genes"),
                                        ("--max-percent-mito", "max_percent_mito"),
                                        ("--rna-normalised", "rna_normalised"), SEED)),
    Step("SCACT_RNA_PROCESS", "preprocessing", _options(
        ("--markers", "markers"), ("--n-top-genes", "n_top_genes"), ("--resolution", "leiden_resolution"),
        ("--rna-normalised", "rna_normalised"), SEED)),
    Step("SCACT_ATAC_QC", "qc", _options(
        ("--min-fragments", "min_fragments"), ("--min-tss-enrichment", "min_tss_enrichment"),
        ("--min-peak-counts", "min_peak_counts"), ("--doublet-method", "atac_doublet_method"), ("--tn5", "tn5"),
        SEED)),
    Step("SCACT_CALL_PEAKS", "peaks", _options(
        ("--genome-size", "macs_genome_size"), ("--qvalue", "macs_qvalue"), ("--tn5", "tn5"),
        ("--macs-version", "macs_version"), ("--max-insertions", "macs_max_insertions"), SEED)),
    Step("SCACT_ATAC_MATRIX", "preprocessing/atac_matrix", _options(("--tn5", "tn5")), intermediate=True),
    Step("SCACT_ATAC_PROCESS", "preprocessing", _options(
        ("--n-top-peaks", "n_top_peaks"), ("--resolution", "leiden_resolution"), SEED)),
    Step("SCACT_RECONCILE", "preprocessing", _options(
        ("--markers", "markers"), ("--label-free", "label_free"), ("--heldout-fraction", "heldout_fraction"),
        SEED)),
    Step("SCACT_TRAIN", "model", _options(
        ("--gamma", "gamma"), ("--lambda", "lambda_cycle"), ("--mi-weight", "mi_weight"),
        ("--classifier-weight", "classifier_weight"), ("--label-free", "label_free"),
        ("--rna-likelihood", "rna_likelihood"), ("--atac-input-dropout", "atac_input_dropout"),
        ("--link-weight", "link_weight"),
        ("--max-epochs-autoencoder", "max_epochs_autoencoder"), ("--max-epochs-mapping", "max_epochs_mapping"),
        ("--max-epochs-joint", "max_epochs_joint"), SEED) + (
        Option("--batch-size", "batch_size",
               nextflow_value="Math.max(16, (params.batch_size as int).intdiv(1 << (task.attempt - 1)))"),),
        nextflow_only=(
            f"// The train command exits {EXIT_CUDA_OUT_OF_MEMORY} on a CUDA out-of-memory: retried up to twice,"
            " with half the batch",
            "// each time (--batch-size in ext.args, never below 16).",
            f"errorStrategy = {{ task.exitStatus in ([{EXIT_CUDA_OUT_OF_MEMORY}] + (130..145) + 104 + 175) ?"
            " 'retry' : 'finish' }",
            "maxRetries    = 2",
        )),
    Step("SCACT_TRANSLATE", "translation", _options(
        ("--translation-depth", "translation_depth"), ("--translation-neighbours", "translation_neighbours"),
        ("--probabilities", "translation_probabilities"), ("--top-k", "translation_top_k"), SEED)),
    Step("SCACT_EVALUATE", "evaluation", _options(SEED)),
    Step("SCACT_PERTURB", "regulation", _options(("--steps", "ig_steps"), SEED)),
    Step("SCACT_LINK", "regulation", _options(("--window", "link_window"), ("--fdr", "link_fdr"), SEED)),
    Step("SCACT_MOTIFS", "regulation"),
    Step("SCACT_REPORT", "report"),
)}

#: Processes in the order ``workflows/scact.nf`` calls them.
STEP_ORDER = tuple(STEPS)

MODULES_CONFIG_HEADER = """\
/*
    GENERATED from the step table in src/scact/steps.py (the local runner, scact run, reads the same
    table): edit the table, then run `python -m scact.steps`. tests/test_pipeline.py checks that this
    file is current.

    Publishing: each step publishes its outputs (not versions.yml: the pipeline collects those into
    pipeline_info/) into the folder of params.outdir named by its ext.publish_dir; a step without one
    publishes nothing. The per-sample intermediates of parse and atac_matrix are published only with
    --save_intermediates. ext.args: the options each step gets from the pipeline parameters.
*/
process {
    publishDir = [
        path: { "${params.outdir}/${task.ext.publish_dir ?: ''}" },
        mode: params.publish_dir_mode,
        saveAs: { filename -> task.ext.publish_dir && filename != 'versions.yml' ? filename : null }
    ]
"""


def modules_config() -> str:
    """The text of ``conf/modules.config``: per process its ``ext.publish_dir``, ``ext.args`` and the
    settings only Nextflow needs."""
    lines = [MODULES_CONFIG_HEADER.rstrip("\n")]
    for step in STEPS.values():
        folder = f"'{step.publish_dir}'"
        if step.intermediate:
            folder = f"params.save_intermediates ? {folder} : null"
        lines += ["", f"    withName: '{step.process}' {{", f"        ext.publish_dir = {folder}"]
        if step.options:
            lines.append("        ext.args = { [")
            lines += [f'            "{option.flag} ${{{option.nextflow_value or "params." + option.param}}}",'
                      for option in step.options]
            lines.append("        ].join(' ') }")
        lines += [f"        {line}" for line in step.nextflow_only]
        lines.append("    }")
    return "\n".join(lines) + "\n}\n"


#: Commands without a ``bin/`` script: ``run`` drives the scripts rather than being one.
COMMANDS_WITHOUT_SCRIPT = ("run",)


def bin_scripts() -> dict[str, str]:
    """``bin/scact_<command>.py`` of every command: what a Nextflow process calls."""
    return {f"scact_{name}.py": (f'#!/usr/bin/env python3\n"""Nextflow entry point of `scact {name}` (see '
                                 f'src/scact/cli/{name}.py)."""\nfrom scact.cli import run_script\n'
                                 f'run_script("{name}")\n')
            for name in command_names() if name not in COMMANDS_WITHOUT_SCRIPT}


def generated_files() -> dict[str, str]:
    """Every file generated from this module, by path relative to the checkout."""
    return {"conf/modules.config": modules_config(),
            **{f"bin/{name}": text for name, text in bin_scripts().items()}}


def write_generated_files(root: Path) -> None:
    """Write the generated files into the checkout at ``root`` (bin/ scripts executable)."""
    for relative, text in generated_files().items():
        path = root / relative
        path.write_text(text)
        if relative.startswith("bin/"):
            os.chmod(path, 0o755)


if __name__ == "__main__":
    write_generated_files(Path(__file__).resolve().parents[2])
