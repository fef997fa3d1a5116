# `make tune` and `make test` set everything up in .venv on first use, then run.
VENV ?= .venv
PYTHON ?= python3
# the CPU build of PyTorch that this machine kind keeps on disk; pyproject.toml only asks torch>=2.2
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: setup tune test bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q "$(TORCH)" -e '.[test]'
	touch $@

setup: $(STAMP)

tune: $(STAMP)
	$(VENV)/bin/raytune-app tune search_spaces/mlp_digits.yaml --resume

# two pytest workers, a test file each at a time (module fixtures stay shared): most of a test's time is
# processes starting and Ray waiting, so the two cores are not what holds it back; then, alone, the tests
# that time real faults (a second worker's load delays Ray's state saves they rely on)
test: $(STAMP)
	$(VENV)/bin/python -m pytest -n 2 --dist loadfile -m "not serial"
	$(VENV)/bin/python -m pytest -m serial
