# `make demo`: create .venv, install CustomerSense, run it on the embedded Online Retail II data.
# `make test`: create .venv with the dev extras and run the test suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test bench bench-scale clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(VENV)/.installed-bench: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[bench]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/customersense run --out outputs

# The report's browser test (tests/reporting/test_report_browser.py) runs Debian's chromium.
CHROMIUM := /usr/bin/chromium

$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "make test: install Chromium at $(CHROMIUM) (Debian package chromium)"; exit 1; }
	$(eval SUDO := $(if $(filter 0,$(shell id -u)),,sudo))
	export DEBIAN_FRONTEND=noninteractive; $(SUDO) apt-get install -y -q chromium >/dev/null \
	  || { $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q chromium >/dev/null; }

# The browser tests save their screenshots in test-artifacts/.
test: $(VENV)/.installed-dev $(CHROMIUM)
	CUSTOMERSENSE_ARTIFACTS=$(CURDIR)/test-artifacts $(BIN)/python -m pytest -q

bench: $(VENV)/.installed
	$(BIN)/python bench/bench_features.py --rows 10000000

# Issues 5 and 19: every table of docs/benchmarks.md sections 5, 7 and 8 (46 minutes on 2 cores with
# SCALE_200M=1; a quiet machine).
bench-scale: $(VENV)/.installed-bench
	bash bench/scale.sh

clean:
	rm -rf $(VENV) outputs .pytest_cache test-artifacts
