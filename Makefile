# DevSignal Pipelines. Every target creates .venv and installs on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DEVSIGNAL_HOME ?= $(CURDIR)/.devsignal

.PHONY: demo dev test test-all lint format bench bench-sync bench-models bench-webhooks bench-ingest bench-github bench-publish bench-scheduled bench-cli install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Run the whole pipeline against the local sandbox API on the embedded DuckDB warehouse.
demo: $(STAMP)
	$(BIN)/devsignal demo

## Open the Dagster UI on the same instance the demo and `devsignal sync` use.
dev: $(STAMP)
	$(BIN)/devsignal dev

## Unit and integration tests (DuckDB and PostgreSQL at 127.0.0.1:5432).
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check devsignal_pipelines tests benchmarks
	$(BIN)/ruff format --check devsignal_pipelines tests benchmarks

format: $(STAMP)
	$(BIN)/ruff check --fix devsignal_pipelines tests benchmarks
	$(BIN)/ruff format devsignal_pipelines tests benchmarks

## Throughput and memory benchmarks (not part of `make test`); each also has its own target.
bench: bench-sync bench-models bench-webhooks bench-ingest bench-github bench-publish bench-scheduled bench-cli

## ~100,000 X posts synced from the sandbox into DuckDB: posts/s, phases, peak RSS.
bench-sync: $(STAMP)
	$(BIN)/python -m benchmarks.bench_twitter_sync

## The SQL models over 10,000,000 signals: floor scan, direct SQL, full and incremental refresh.
bench-models: $(STAMP)
	$(BIN)/python -m benchmarks.bench_models

## 100,000 webhook events fanned out to a local receiver: signed deliveries/s, counts match.
bench-webhooks: $(STAMP)
	$(BIN)/python -m benchmarks.bench_webhooks

## 1,000,000 Segment track events through `devsignal api` into core.signals: events/s, latency, counts match.
bench-ingest: $(STAMP)
	$(BIN)/python -m benchmarks.bench_ingest

## ~45,000 GitHub stars, forks, issues, comments and profiles: items/s, API calls, 304s when unchanged.
bench-github: $(STAMP)
	$(BIN)/python -m benchmarks.bench_github_sync

## The analysts' read path over 10,000,000 signals: first, unchanged and per-organization publishes, queries.
bench-publish: $(STAMP)
	$(BIN)/python -m benchmarks.bench_publish

## A scheduled run (daemon, queue, run launcher) against the same work through `devsignal sync`.
bench-scheduled: $(STAMP)
	$(BIN)/python -m benchmarks.bench_scheduled_run

## `devsignal --help` and commands that do not run Dagster, each a fresh process.
bench-cli: $(STAMP)
	$(BIN)/python -m benchmarks.bench_cli

clean:
	rm -rf $(VENV) .devsignal .pytest_cache .ruff_cache
