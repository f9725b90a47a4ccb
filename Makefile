# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DB ?= sqlite:///truthline-demo.db

.PHONY: demo test bench bench-quality bench-rating bench-numeric bench-pairwise install clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/truthline demo --db $(DB)

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/python benchmarks/core.py

bench-rating: $(STAMP)
	$(BIN)/python benchmarks/rating.py

bench-numeric: $(STAMP)
	$(BIN)/python benchmarks/numeric.py

# choix (the open Bradley-Terry library) is the peer; ~5 min, most of it choix on 1M labels
bench-pairwise: $(STAMP)
	$(BIN)/pip install -q choix==0.4.1
	$(BIN)/python benchmarks/pairwise.py

# crowd-kit lives in its own venv (it pins old scikit-learn/pandas); the first run takes ~15-20 min.
bench-quality: $(STAMP)
	test -x .venv-bench/bin/python || $(PY) -m venv .venv-bench
	.venv-bench/bin/pip install -q -r benchmarks/requirements-quality.txt
	$(BIN)/python benchmarks/quality.py

clean:
	rm -rf $(VENV) truthline-demo.db*
