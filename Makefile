# Two commands from a fresh clone: `make demo` runs the pipeline, `make test` runs every check.
# Each target creates the virtualenv and installs on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test check lint format typecheck terraform-check pytest migrate snapshot worker chaos clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,embedded]'
	touch $(STAMP)

# The main job: the whole pipeline on this machine (see README).
demo: $(STAMP)
	$(BIN)/cuecast demo

test: check pytest

check: lint typecheck terraform-check

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(STAMP)
	$(BIN)/mypy

terraform-check: $(STAMP)
	bash scripts/check-terraform.sh

pytest: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadgroup -q

migrate: $(STAMP)
	$(BIN)/cuecast migrate --local-supabase

snapshot: $(STAMP)
	$(BIN)/python -m tests.schema_snapshot --write

worker: $(STAMP)
	$(BIN)/cuecast worker

# The chaos run, bigger than CI's (SEED=N to repeat one); add ARGS=--db-faults to cut
# connections mid-run.
chaos: $(STAMP)
	$(BIN)/python -m tests.chaos.run --videos 100 --items 30 $(if $(SEED),--seed $(SEED)) $(ARGS)

clean:
	rm -rf $(VENV) .venv-checkov .cuecast .pytest_cache .mypy_cache .ruff_cache
