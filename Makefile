# Two commands from a fresh clone: `make demo` runs the pipeline, `make test` runs every check.
# Each target creates the virtualenv and installs on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test check lint format typecheck terraform-check pytest migrate snapshot worker chaos bench bench-smoke coldstart clean

$(STAMP): pyproject.toml requirements/functions.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c requirements/functions.txt \
		-e '.[dev,embedded,local]'
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
	bash scripts/ensure-pgbouncer.sh
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

# Benchmarks (bench/README.md): every script at its default size (~13 min on 2 cores), or
# all nine at a tiny size (~1 min; results in bench/results/smoke-*.json).
bench: $(STAMP)
	$(BIN)/python -m bench.throughput
	$(BIN)/python -m bench.limit
	$(BIN)/python -m bench.roundtrips
	$(BIN)/python -m bench.scale
	$(BIN)/python -m bench.memory
	$(BIN)/python -m bench.audio
	$(BIN)/python -m bench.adoption
	$(BIN)/python -m bench.reconcile
	$(BIN)/python -m bench.coldstart

bench-smoke: $(STAMP)
	$(BIN)/python -m bench.throughput --items 200 --rounds 1 --output smoke-throughput
	$(BIN)/python -m bench.limit --items 200 --rounds 1 --output smoke-limit
	$(BIN)/python -m bench.roundtrips --items 50 --output smoke-roundtrips
	$(BIN)/python -m bench.scale --sizes 1000 10000 --queued 1000 --rounds 1 --claims 200 \
		--pairs 300 --passage 2000 --output smoke-scale
	$(BIN)/python -m bench.memory --large-mb 50 --output smoke-memory
	$(BIN)/python -m bench.audio --repeat 2 --output smoke-audio
	$(BIN)/python -m bench.adoption --videos 2000 --output smoke-adoption
	$(BIN)/python -m bench.reconcile --items 50 --lag 1 --grace 0.2 --sweep 0.2 --output smoke-reconcile
	$(BIN)/python -m bench.coldstart --runs 3 --output smoke-coldstart

# The cold starts alone (bench/README.md, section 9; about a minute).
coldstart: $(STAMP)
	$(BIN)/python -m bench.coldstart

clean:
	rm -rf $(VENV) .venv-checkov .cuecast .pytest_cache .mypy_cache .ruff_cache
