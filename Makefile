# `make tune` and `make test` set everything up in .venv on first use, then run.
VENV ?= .venv
PYTHON ?= python3
# the CPU build of PyTorch that this machine kind keeps on disk; pyproject.toml only asks torch>=2.2
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: setup tune test test-cluster bench docs

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q "$(TORCH)" -e '.[test]'
	touch $@

setup: $(STAMP)

tune: $(STAMP)
	$(VENV)/bin/raytune-app tune search_spaces/mlp_digits.yaml --resume

# three pytest workers, a test file each at a time (module fixtures stay shared; conftest.py hands out the
# longest files first): the two cores are what holds the suite back, and a third worker keeps them busy while
# the others' tests wait on Ray or on a trial caught mid-run; the slowest tests are listed at the end
test: $(STAMP)
	$(VENV)/bin/python -m pytest -n 3 --dist loadfile -m "not autoscaling" --durations=15

# Ray's autoscaler for real (tests/test_autoscaling_e2e.py): a cluster of Ray's fake multi-node provider in network
# and PID namespaces of its own (root, or user namespaces allowed; skipped otherwise), nodes added and removed as
# trials need them. One cluster for all its tests, one worker: 3 to 7 minutes on two cores, as busy as they are.
test-cluster: $(STAMP)
	$(VENV)/bin/python -m pytest -n 0 -m autoscaling -s tests/test_autoscaling_e2e.py

# the search-quality benchmark, about 4.5 hours on two cores (docs/performance.md): its peers (Optuna, Syne Tune) and
# matplotlib are installed first
bench: $(STAMP)
	$(VENV)/bin/pip install -q -e '.[bench]'
	$(VENV)/bin/python benchmarks/compare.py

# the docs site, in site/: the generated pages written afresh (`python -m docs.gen`; DOCS_GEN=--check only compares
# them, as CI does), then a strict build, which fails on a broken link or anchor, or a page missing from the nav
docs: $(STAMP)
	$(VENV)/bin/python -m docs.gen $(DOCS_GEN)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict
