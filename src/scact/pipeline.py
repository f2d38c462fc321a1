"""The pipeline's steps and the local runner behind ``scact run``.

``scact run`` executes the same ``bin/`` scripts as the Nextflow processes of ``workflows/scact.nf``, in
the same order (``STEP_ORDER``; ``tests/test_pipeline.py`` checks it against the workflow), each task in
its own folder ``<outdir>/work/<NN>_<PROCESS>[_<tag>]/`` with its inputs linked in, as Nextflow stages
them. Results are then published to ``<outdir>/<step>/``, and ``<outdir>/pipeline_info/`` gets the
trace of tasks, the parameters and the collected ``software_versions.yml``.
Parameters and their defaults come from ``nextflow_schema.json``, the file Nextflow validates against.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import jsonschema
import yaml

from scact.errors import ScactInputError, input_error
from scact.io.atomic import write_text
from scact.io.inputs import ARC_FRAGMENTS
from scact.io.preflight import check_annotation
from scact.io.samplesheet import SampleRow, read_samplesheet

log = logging.getLogger(__name__)

#: Processes in the order ``workflows/scact.nf`` calls them.
STEP_ORDER = ("SCACT_PARSE", "SCACT_RNA_QC", "SCACT_RNA_PROCESS", "SCACT_ATAC_QC", "SCACT_CALL_PEAKS",
              "SCACT_ATAC_MATRIX", "SCACT_ATAC_PROCESS", "SCACT_RECONCILE", "SCACT_TRAIN", "SCACT_TRANSLATE",
              "SCACT_EVALUATE", "SCACT_PERTURB", "SCACT_LINK", "SCACT_MOTIFS", "SCACT_REPORT")

#: Options each step gets from the pipeline parameters: (option, parameter). The same as the ``ext.args``
#: of ``conf/modules.config`` (tests/test_pipeline.py checks it).
STEP_OPTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "SCACT_RNA_QC": (("--min-umis", "min_umis"), ("--min-genes", "min_genes"),
                     ("--max-percent-mito", "max_percent_mito"), ("--rna-normalised", "rna_normalised"),
                     ("--seed", "seed")),
    "SCACT_RNA_PROCESS": (("--markers", "markers"), ("--n-top-genes", "n_top_genes"),
                          ("--resolution", "leiden_resolution"), ("--rna-normalised", "rna_normalised"),
                          ("--seed", "seed")),
    "SCACT_ATAC_QC": (("--min-fragments", "min_fragments"), ("--min-tss-enrichment", "min_tss_enrichment"),
                      ("--min-peak-counts", "min_peak_counts"), ("--doublet-method", "atac_doublet_method"),
                      ("--tn5", "tn5"), ("--seed", "seed")),
    "SCACT_CALL_PEAKS": (("--genome-size", "macs_genome_size"), ("--qvalue", "macs_qvalue"), ("--tn5", "tn5")),
    "SCACT_ATAC_MATRIX": (("--tn5", "tn5"),),
    "SCACT_ATAC_PROCESS": (("--n-top-peaks", "n_top_peaks"), ("--resolution", "leiden_resolution"),
                           ("--seed", "seed")),
    "SCACT_RECONCILE": (("--markers", "markers"), ("--heldout-fraction", "heldout_fraction"), ("--seed", "seed")),
    "SCACT_TRAIN": (("--gamma", "gamma"), ("--lambda", "lambda_cycle"), ("--mi-weight", "mi_weight"),
                    ("--classifier-weight", "classifier_weight"), ("--rna-likelihood", "rna_likelihood"),
                    ("--atac-input-dropout", "atac_input_dropout"),
                    ("--max-epochs-autoencoder", "max_epochs_autoencoder"),
                    ("--max-epochs-mapping", "max_epochs_mapping"), ("--max-epochs-joint", "max_epochs_joint"), ("--device", "device"), ("--seed", "seed"),
                    ("--batch-size", "batch_size")),
    "SCACT_TRANSLATE": (("--translation-depth", "translation_depth"),
                        ("--translation-neighbours", "translation_neighbours"), ("--seed", "seed")),
    "SCACT_EVALUATE": (("--seed", "seed"),),
    "SCACT_PERTURB": (("--steps", "ig_steps"), ("--device", "device"), ("--seed", "seed")),
    "SCACT_LINK": (("--window", "link_window"), ("--fdr", "link_fdr"), ("--seed", "seed")),
}

#: Where each step's results are published in ``--outdir`` (``publishDir`` of conf/modules.config);
#: None: only with ``--save_intermediates``.
PUBLISH_DIRS = {
    "SCACT_PARSE": None, "SCACT_RNA_QC": "qc", "SCACT_ATAC_QC": "qc", "SCACT_CALL_PEAKS": "peaks",
    "SCACT_ATAC_MATRIX": None, "SCACT_RNA_PROCESS": "preprocessing", "SCACT_ATAC_PROCESS": "preprocessing",
    "SCACT_RECONCILE": "preprocessing", "SCACT_TRAIN": "model", "SCACT_TRANSLATE": "translation",
    "SCACT_EVALUATE": "evaluation", "SCACT_PERTURB": "regulation", "SCACT_LINK": "regulation",
    "SCACT_MOTIFS": "regulation", "SCACT_REPORT": "report",
}
#: Parameters that may name files (``markers`` may also be a built-in set's name).
FILE_PARAMS = ("annotation", "markers", "genome_fasta")
#: Where the intermediates go with ``--save_intermediates``.
INTERMEDIATE_DIRS = {"SCACT_PARSE": "parsed", "SCACT_ATAC_MATRIX": "preprocessing/atac_matrix"}

def load_params_schema() -> dict:
    """``nextflow_schema.json`` as shipped with the package."""
    return json.loads(resources.files("scact.data").joinpath("nextflow_schema.json").read_text())


def schema_properties(schema: dict | None = None) -> dict[str, dict]:
    """Every parameter of the schema, across its groups."""
    schema = schema or load_params_schema()
    props: dict[str, dict] = {}
    for group in schema.get("$defs", {}).values():
        props.update(group.get("properties", {}))
    return props


def resolve_params(overrides: dict) -> dict:
    """Schema defaults updated with ``overrides``; unknown names and wrong types are refused."""
    props = schema_properties()
    unknown = sorted(set(overrides) - set(props))
    if unknown:
        raise ScactInputError(f"unknown parameter(s): {', '.join('--' + u for u in unknown)} "
                              f"(see nextflow_schema.json or docs/parameters.md)")
    params = {name: spec.get("default") for name, spec in props.items()}
    for name, value in overrides.items():
        params[name] = _coerce(value, props[name], name)
    for name, value in params.items():
        if value is None:
            continue
        spec = {k: v for k, v in props[name].items() if k in ("type", "enum", "minimum", "maximum", "pattern")}
        try:
            jsonschema.validate(value, spec)
        except jsonschema.ValidationError as err:
            raise ScactInputError(f"parameter --{name}: {err.message}") from None
    return params


def _coerce(value, spec: dict, name: str):
    """Command-line strings to the schema's type (Nextflow does the same for ``--name value``)."""
    if not isinstance(value, str):
        return value
    kind = spec.get("type")
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        raise ScactInputError(f"parameter --{name}: {value!r} is not a {kind}") from None
    if kind == "boolean":
        if value.lower() not in ("true", "false"):
            raise ScactInputError(f"parameter --{name}: {value!r} is not true or false")
        return value.lower() == "true"
    return value


def bin_dir() -> Path:
    """The repository's ``bin/`` folder (the scripts Nextflow puts on the PATH of every task)."""
    candidate = Path(__file__).resolve().parents[2] / "bin"
    if not candidate.is_dir():
        raise ScactInputError(f"{candidate}: bin/ folder not found; run scact run from a checkout of the pipeline")
    return candidate


@dataclass
class TaskRecord:
    process: str
    tag: str
    workdir: Path
    exit_status: int
    seconds: float


@dataclass
class LocalRunner:
    """Runs tasks one at a time in their own folders and keeps a trace, like Nextflow's local executor."""

    outdir: Path
    params: dict
    trace: list[TaskRecord] = field(default_factory=list)

    def task(self, process: str, args: list[str], stage: list[Path], tag: str = "",
             nested: dict[Path, list[Path]] | None = None) -> Path:
        """Run ``bin/scact_<command>.py args`` for ``process`` in a fresh folder with ``stage`` linked in
        (and ``nested``: files linked into subfolders, as Nextflow's ``stageAs: 'dir/??/*'``)."""
        command = process.removeprefix("SCACT_").lower()
        name = f"{len(self.trace) + 1:02d}_{process}" + (f"_{tag}" if tag else "")
        workdir = self.outdir / "work" / name
        if workdir.exists():
            shutil.rmtree(workdir)
        workdir.mkdir(parents=True)
        for folder, paths in [(Path("."), stage), *(nested or {}).items()]:
            (workdir / folder).mkdir(parents=True, exist_ok=True)
            for path in paths:
                link = workdir / folder / path.name
                if not link.exists():
                    link.symlink_to(path.resolve())
        options = [str(v) for option, param in STEP_OPTIONS.get(process, ())
                   for v in (option, self.params[param])]
        argv = [sys.executable, str(bin_dir() / f"scact_{command}.py"), *map(str, args), *options,
                "--task-name", process]
        write_text(workdir / ".command.sh", " ".join(argv) + "\n")
        log.info("[%s] %s", name, " ".join(argv[1:]))
        start = time.monotonic()
        with open(workdir / ".command.log", "w") as out:
            status = subprocess.run(argv, cwd=workdir, stdout=out, stderr=subprocess.STDOUT,
                                    env={**os.environ, "MPLBACKEND": "Agg"}).returncode
        self.trace.append(TaskRecord(process, tag, workdir, status, time.monotonic() - start))
        if status != 0:
            tail = (workdir / ".command.log").read_text().strip().splitlines()[-15:]
            self.write_trace()
            raise ScactInputError(f"step {process}{' (' + tag + ')' if tag else ''} failed with exit status "
                                  f"{status}; log {workdir / '.command.log'}:\n" + "\n".join(tail))
        self.repeat_warnings(name, workdir / ".command.log")
        return workdir

    @staticmethod
    def repeat_warnings(name: str, task_log: Path) -> None:
        """Show the task's WARNING lines on the runner's own log: the task logs are files nobody watches."""
        for line in task_log.read_text(errors="replace").splitlines():
            if " WARNING " in line:
                log.warning("[%s] %s", name, line.split(" WARNING ", 1)[1])

    def publish(self, process: str, workdir: Path, patterns: list[str]) -> list[Path]:
        """Copy the outputs matching ``patterns`` to the step's folder of ``--outdir`` (Nextflow's publishDir)."""
        step = PUBLISH_DIRS[process]
        if step is None:
            if not self.params["save_intermediates"]:
                return []
            step = INTERMEDIATE_DIRS[process]
        target = self.outdir / step
        target.mkdir(parents=True, exist_ok=True)
        published = []
        for pattern in patterns:
            for path in sorted(workdir.glob(pattern)):
                dest = target / path.name
                if dest.exists():
                    shutil.rmtree(dest) if dest.is_dir() else dest.unlink()
                (shutil.copytree if path.is_dir() else shutil.copy2)(path, dest)
                published.append(path)
        return published

    def write_trace(self) -> None:
        lines = ["task\tprocess\ttag\texit\tseconds\tworkdir"]
        lines += [f"{i}\t{t.process}\t{t.tag}\t{t.exit_status}\t{t.seconds:.1f}\t{t.workdir}"
                  for i, t in enumerate(self.trace, start=1)]
        write_text(self.outdir / "pipeline_info" / "execution_trace.tsv", "\n".join(lines) + "\n")

    def collect_versions(self) -> None:
        """Merge every task's versions.yml into pipeline_info/software_versions.yml."""
        versions: dict = {}
        for record in self.trace:
            path = record.workdir / "versions.yml"
            if path.is_file():
                versions.update(yaml.safe_load(path.read_text()) or {})
        write_text(self.outdir / "pipeline_info" / "software_versions.yml", yaml.safe_dump(versions, sort_keys=True))


def _parse_rows(runner: LocalRunner, rows: list[SampleRow]) -> dict[str, dict[str, Path]]:
    """SCACT_PARSE for every row; returns {modality: {sample: parsed h5ad}} plus fragments per sample."""
    parsed: dict[str, dict[str, Path]] = {"rna": {}, "atac": {}, "fragments": {}}
    for row in rows:
        stage = [row.input]
        fragments = row.fragments
        if row.input_format == "fragments":
            stage.append(Path(f"{row.input}.tbi"))
        args = ["--sample", row.sample, "--modality", row.modality, "--input", row.input.name, "--outdir", "."]
        if row.batch != row.sample:
            args += ["--batch", row.batch]
        if row.labels:
            if row.labels.startswith("obs:"):
                args += ["--labels", row.labels]
            else:
                stage.append(Path(row.labels))
                args += ["--labels", Path(row.labels).name]
        workdir = runner.task("SCACT_PARSE", args, stage, tag=f"{row.sample}_{row.modality}")
        runner.publish("SCACT_PARSE", workdir, [f"{row.sample}_*.h5ad"])
        for modality in row.modalities:
            parsed[modality][row.sample] = workdir / f"{row.sample}_{modality}.h5ad"
        if fragments is not None:
            parsed["fragments"][row.sample] = fragments
    return parsed


def _preprocess_rna(runner: LocalRunner, parsed: dict[str, Path]) -> Path:
    """SCACT_RNA_QC per sample, then SCACT_RNA_PROCESS over all of them."""
    if not parsed:
        raise ScactInputError("the samplesheet gives no RNA sample: scACT needs both modalities")
    qc = []
    for sample, h5ad in sorted(parsed.items()):
        workdir = runner.task("SCACT_RNA_QC", ["--input", h5ad.name, "--sample", sample, "--outdir", "."],
                              [h5ad], tag=sample)
        runner.publish("SCACT_RNA_QC", workdir, [f"{sample}_rna_qc*"])
        qc.append(workdir / f"{sample}_rna_qc.h5ad")
    workdir = runner.task("SCACT_RNA_PROCESS", ["--input", *[p.name for p in qc], "--outdir", "."], qc)
    runner.publish("SCACT_RNA_PROCESS", workdir, ["rna_processed.h5ad", "rna_marker_scores.tsv", "*.png"])
    return workdir / "rna_processed.h5ad"


def _preprocess_atac(runner: LocalRunner, parsed: dict[str, Path], fragments: dict[str, Path],
                     rows: dict[str, SampleRow]) -> tuple[Path, Path]:
    """SCACT_ATAC_QC per sample, SCACT_CALL_PEAKS on the samples with fragments, SCACT_ATAC_MATRIX per
    sample, SCACT_ATAC_PROCESS over all of them."""
    if not parsed:
        raise ScactInputError("the samplesheet gives no ATAC sample: scACT needs both modalities")
    annotation = Path(runner.params["annotation"]) if runner.params["annotation"] else None
    if fragments and annotation is None:
        raise ScactInputError("ATAC fragments inputs need --annotation (a TSS BED or GTF of the genome)")
    qc: dict[str, Path] = {}
    for sample, h5ad in sorted(parsed.items()):
        args, stage = ["--input", h5ad.name, "--sample", sample, "--outdir", "."], [h5ad]
        if sample in fragments:
            frag = fragments[sample]
            args += ["--fragments", frag.name, "--annotation", annotation.name]
            stage += [frag, Path(f"{frag}.tbi"), annotation]
            metrics = frag.parent / "per_barcode_metrics.csv"
            # CellRanger-arc's cell calls, beside its fragments (arc folder, its .h5 or its mtx folder)
            if rows[sample].input_format != "fragments" and frag.name == ARC_FRAGMENTS and metrics.is_file():
                args += ["--cell-metrics", metrics.name]
                stage.append(metrics)
        workdir = runner.task("SCACT_ATAC_QC", args, stage, tag=sample)
        runner.publish("SCACT_ATAC_QC", workdir, [f"{sample}_atac_qc*"])
        qc[sample] = workdir / f"{sample}_atac_qc.h5ad"
    peaks = None
    with_fragments = sorted(s for s in qc if s in fragments)
    if with_fragments:
        args, stage = [], [annotation]
        for number, sample in enumerate(with_fragments, start=1):
            staged = Path("fragments") / f"{number:02d}" / fragments[sample].name
            args += ["--input", qc[sample].name, str(staged)]
            stage.append(qc[sample])
        workdir = runner.task("SCACT_CALL_PEAKS", [*args, "--annotation", annotation.name, "--outdir", "."], stage,
                              nested={Path("fragments") / f"{n:02d}": [fragments[s], Path(f"{fragments[s]}.tbi")]
                                      for n, s in enumerate(with_fragments, start=1)})
        runner.publish("SCACT_CALL_PEAKS", workdir, ["peaks.bed", "macs3_*", "dropped_chromosomes.tsv", "*.png"])
        peaks = workdir / "peaks.bed"
    matrices = []
    for sample, h5ad in sorted(qc.items()):
        args, stage = ["--input", h5ad.name, "--sample", sample, "--outdir", "."], [h5ad]
        if peaks is not None:
            args += ["--peaks", peaks.name]
            stage.append(peaks)
        if sample in fragments:
            args += ["--fragments", fragments[sample].name]
            stage += [fragments[sample], Path(f"{fragments[sample]}.tbi")]
        workdir = runner.task("SCACT_ATAC_MATRIX", args, stage, tag=sample)
        runner.publish("SCACT_ATAC_MATRIX", workdir, [f"{sample}_atac_peaks.h5ad"])
        matrices.append(workdir / f"{sample}_atac_peaks.h5ad")
    args, stage = ["--input", *[m.name for m in matrices], "--outdir", "."], list(matrices)
    if annotation is not None:
        args += ["--annotation", annotation.name]
        stage.append(annotation)
    workdir = runner.task("SCACT_ATAC_PROCESS", args, stage)
    runner.publish("SCACT_ATAC_PROCESS", workdir, ["atac_processed.h5ad", "gene_activity.h5ad", "*.png"])
    return workdir / "atac_processed.h5ad", workdir / "gene_activity.h5ad"


def _reconcile(runner: LocalRunner, rna: Path, atac: Path, gene_activity: Path) -> tuple[Path, Path]:
    """SCACT_RECONCILE: shared label vocabulary, the training inputs rna.h5ad and atac.h5ad."""
    workdir = runner.task("SCACT_RECONCILE", ["--rna", rna.name, "--atac", atac.name,
                                              "--gene-activity", gene_activity.name, "--outdir", "."],
                          [rna, atac, gene_activity])
    runner.publish("SCACT_RECONCILE", workdir, ["rna.h5ad", "atac.h5ad", "label_reconciliation.tsv",
                                                "atac_marker_scores.tsv", "*.png"])
    return workdir / "rna.h5ad", workdir / "atac.h5ad"


def _train(runner: LocalRunner, rna: Path, atac: Path) -> Path:
    """SCACT_TRAIN: the scACT model on the unpaired training matrices."""
    workdir = runner.task("SCACT_TRAIN", ["--rna", rna.name, "--atac", atac.name, "--outdir", ".", "--no-progress"],
                          [rna, atac])
    runner.publish("SCACT_TRAIN", workdir, ["model", "training_history.csv", "loss_curves.png"])
    return workdir / "model"


def _translate_and_evaluate(runner: LocalRunner, model: Path, rna: Path, atac: Path,
                            gene_activity: Path) -> dict[str, Path]:
    """SCACT_TRANSLATE (both ways, joint embedding) and SCACT_EVALUATE (metrics with baselines)."""
    device = "cuda" if runner.params["device"] == "cuda" else "cpu"
    workdir = runner.task("SCACT_TRANSLATE", ["--model", model.name, "--rna", rna.name, "--atac", atac.name,
                                              "--device", device], [model, rna, atac])
    runner.publish("SCACT_TRANSLATE", workdir, ["rna_to_atac.h5ad", "atac_to_rna.h5ad", "joint_embedding.h5ad",
                                                "umap_*.png"])
    translations = {name: workdir / f"{name}.h5ad" for name in ("rna_to_atac", "atac_to_rna", "joint_embedding")}
    stage = [rna, atac, *translations.values(), gene_activity]
    workdir = runner.task("SCACT_EVALUATE", ["--rna", rna.name, "--atac", atac.name,
                                             "--rna-to-atac", "rna_to_atac.h5ad", "--atac-to-rna", "atac_to_rna.h5ad",
                                             "--joint-embedding", "joint_embedding.h5ad",
                                             "--gene-activity", gene_activity.name], stage)
    runner.publish("SCACT_EVALUATE", workdir, ["metrics.tsv", "metrics_per_type.tsv", "roc_curves.tsv",
                                               "within_type_distances.tsv", "*.png"])
    return translations


def _regulation(runner: LocalRunner, model: Path, rna: Path, atac: Path, translations: dict[str, Path]) -> None:
    """SCACT_PERTURB (when genes are asked for), SCACT_LINK (when there is an annotation), SCACT_MOTIFS."""
    annotation = Path(runner.params["annotation"]) if runner.params["annotation"] else None
    genes = runner.params["genes"]
    ig_peaks: list[Path] = []
    if genes:
        args, stage = ["--model", model.name, "--atac", atac.name, "--genes", genes, "--outdir", "."], [model, atac]
        if annotation is not None:
            args += ["--annotation", annotation.name]
            stage.append(annotation)
        workdir = runner.task("SCACT_PERTURB", args, stage)
        runner.publish("SCACT_PERTURB", workdir, ["ig_summary.tsv", "*_ig_peaks.tsv", "*_ig_by_cell_type.tsv",
                                                  "*_ig_top_peaks_accessibility.png"])
        ig_peaks = sorted(workdir.glob("*_ig_peaks.tsv"))
    if annotation is not None:
        args = ["--rna", rna.name, "--atac", atac.name, "--annotation", annotation.name,
                "--rna-to-atac", "rna_to_atac.h5ad", "--atac-to-rna", "atac_to_rna.h5ad", "--ig-dir", ".",
                "--outdir", "."]
        if genes:
            args += ["--genes", genes]
        workdir = runner.task("SCACT_LINK", args, [rna, atac, annotation, translations["rna_to_atac"],
                                                   translations["atac_to_rna"], *ig_peaks])
        runner.publish("SCACT_LINK", workdir, ["links.tsv", "links_*.bedpe", "links_*.interact", "link_genes.tsv",
                                               "link_agreement.tsv", "*_links.png"])
    else:
        log.info("SCACT_LINK skipped: peak-to-gene links need --annotation")
    args, stage = ["--atac", atac.name, "--rna-to-atac", "rna_to_atac.h5ad", "--rna", rna.name, "--outdir", "."], \
        [atac, translations["rna_to_atac"], rna]
    if runner.params["genome_fasta"]:
        fasta = Path(runner.params["genome_fasta"])
        args += ["--fasta", fasta.name]
        stage.append(fasta)
    workdir = runner.task("SCACT_MOTIFS", args, stage)
    runner.publish("SCACT_MOTIFS", workdir, ["motif_*.tsv", "motif_activation_heatmap.png", "motifs_skipped.txt"])


def _report(runner: LocalRunner, samplesheet: Path) -> None:
    """SCACT_REPORT over every published result, with the samplesheet, parameters and versions."""
    info = runner.outdir / "pipeline_info"
    published = [runner.outdir / folder for folder in sorted(set(PUBLISH_DIRS.values()) - {None, "report"})
                 if (runner.outdir / folder).is_dir()]
    workdir = runner.task("SCACT_REPORT", ["--results", "results", "--samplesheet", "samplesheet.csv",
                                           "--params", "params.json", "--versions", "software_versions.yml",
                                           "--outdir", "."],
                          [info / "samplesheet.csv", info / "params.json", info / "software_versions.yml"],
                          nested={Path("results"): published + [info / "execution_trace.tsv"]})
    runner.publish("SCACT_REPORT", workdir, ["scact_report.html", "report_figures", "report_tables", "*_mqc.*"])


def run_pipeline(samplesheet: Path, outdir: Path, overrides: dict | None = None) -> LocalRunner:
    """Run every step of the workflow on one machine."""
    params = resolve_params({**(overrides or {}), "input": str(samplesheet), "outdir": str(outdir)})
    for name in FILE_PARAMS:  # tasks run in their own folders: make paths absolute, as Nextflow stages them
        if params[name] and Path(params[name]).exists():
            params[name] = str(Path(params[name]).resolve())
    rows = read_samplesheet(samplesheet)
    if params["annotation"]:
        check_annotation(Path(params["annotation"]), rows)
    if params["rna_normalised"] and params["rna_likelihood"] == "nb":
        raise ScactInputError("parameters --rna_normalised true and --rna_likelihood nb: the negative binomial "
                              "likelihood models raw counts, which log-normalised input lacks (use --rna_likelihood mse)")
    outdir.mkdir(parents=True, exist_ok=True)
    runner = LocalRunner(outdir.resolve(), params)
    write_text(outdir / "pipeline_info" / "params.json", json.dumps(params, indent=2, default=str) + "\n")
    shutil.copy2(samplesheet, outdir / "pipeline_info" / "samplesheet.csv")
    parsed = _parse_rows(runner, rows)
    rna_processed = _preprocess_rna(runner, parsed["rna"])
    atac_processed, gene_activity = _preprocess_atac(runner, parsed["atac"], parsed["fragments"],
                                                     {row.sample: row for row in rows})
    rna, atac = _reconcile(runner, rna_processed, atac_processed, gene_activity)
    model = _train(runner, rna, atac)
    translations = _translate_and_evaluate(runner, model, rna, atac, gene_activity)
    _regulation(runner, model, rna, atac, translations)
    runner.write_trace()
    runner.collect_versions()
    _report(runner, samplesheet)
    runner.write_trace()
    runner.collect_versions()
    return runner


def read_params_file(path: Path) -> dict:
    """A ``-params-file`` as Nextflow reads it (YAML or JSON)."""
    if not path.is_file():
        raise input_error(path, "params file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise input_error(path, f"not valid YAML/JSON ({err})") from err
    if not isinstance(data, dict):
        raise input_error(path, "params file must hold a mapping of parameter names to values")
    return data
