# `make test` sets up a virtual environment with the pinned dependencies and the pinned Nextflow engine,
# and runs the whole test suite; `make test-fast` runs the fast lane (every test not marked slow: no
# end-to-end pipeline run, no real Nextflow run, no full training), under 2 minutes.
# `make demo` generates the demo dataset and runs the pipeline on it locally (no Nextflow needed).
# `make nextflow` resolves the Nextflow engine pinned in requirements/nextflow/pom.xml from Maven Central
# into $(NEXTFLOW_CACHE)/<version>/ (Java 17 and Maven; see docs/usage.md for offline clusters).
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.scact-installed
NEXTFLOW_CACHE ?= .cache/nextflow
NEXTFLOW_VERSION := $(shell sed -n 's:.*<nextflow.version>\(.*\)</nextflow.version>.*:\1:p' requirements/nextflow/pom.xml)
NEXTFLOW := $(NEXTFLOW_CACHE)/$(NEXTFLOW_VERSION)/nextflow

.PHONY: install nextflow test test-fast demo clean

install: $(STAMP)

$(STAMP): requirements/runtime.txt requirements/dev.txt requirements/nodeps.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip wheel "setuptools<81"
	$(PY) -m pip install --quiet -r requirements/runtime.txt -r requirements/dev.txt
	$(PY) -m pip install --quiet --no-deps -r requirements/nodeps.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

nextflow: $(NEXTFLOW)

$(NEXTFLOW): requirements/nextflow/pom.xml requirements/nextflow/install.sh
	requirements/nextflow/install.sh $(NEXTFLOW_CACHE)

test: $(STAMP) $(NEXTFLOW)
	SCACT_NEXTFLOW=$(abspath $(NEXTFLOW)) $(PY) -m pytest -q tests

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow" tests

demo: $(STAMP)
	$(VENV)/bin/scact simulate --outdir demo_data --preset demo --seed 0
	$(VENV)/bin/scact run --input demo_data/samplesheet.csv --outdir results \
		--annotation demo_data/annotation/tss.bed --markers demo_data/markers.tsv \
		--macs_genome_size 4000000 --genes Gene00933,Gene00744

clean:
	rm -rf $(VENV) results demo_data .pytest_cache
