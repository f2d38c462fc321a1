# `make test` sets up a virtual environment with the pinned dependencies and runs the whole test suite.
# `make demo` generates the demo dataset and runs the pipeline on it locally (no Nextflow needed).
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.scact-installed

.PHONY: install test demo clean

install: $(STAMP)

$(STAMP): requirements/runtime.txt requirements/dev.txt requirements/nodeps.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip wheel "setuptools<81"
	$(PY) -m pip install --quiet -r requirements/runtime.txt -r requirements/dev.txt
	$(PY) -m pip install --quiet --no-deps -r requirements/nodeps.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

test: $(STAMP)
	$(PY) -m pytest -q tests

demo: $(STAMP)
	$(VENV)/bin/scact simulate --outdir demo_data --preset demo --seed 0
	$(VENV)/bin/scact run --input demo_data/samplesheet.csv --outdir results \
		--annotation demo_data/annotation/tss.bed --markers demo_data/markers.tsv \
		--macs_genome_size 4000000 --genes Gene00933,Gene00744

clean:
	rm -rf $(VENV) results demo_data .pytest_cache
