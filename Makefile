# Two commands on a fresh clone: `make run` (the main job, offline demo without credentials) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build; a bare `torch` would pull a multi-GB CUDA build. Override on GPU machines.
TORCH ?= torch==2.13.0

.PHONY: install run test bench bench-scale clean

$(BIN)/kaggle-job: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/kaggle-job

run: install
	$(BIN)/kaggle-job run

test: install
	$(BIN)/python -m pytest -q

# Speed/memory of `predict` vs the seed notebook's way and the plain floor (issue #3); takes minutes.
bench: install
	$(BIN)/python -m bench.predict

# 2 torchrun ranks vs 1 (OMP_NUM_THREADS=1 each): predict on 10x test.csv, one training epoch (issue #16).
bench-scale: install
	$(BIN)/python -m bench.scale

clean:
	rm -rf $(VENV) *.egg-info
