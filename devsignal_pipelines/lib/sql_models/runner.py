"""Run models in dependency order, each in its own transaction, and their schema.yml tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from devsignal_pipelines.lib.sql_models.errors import ModelError
from devsignal_pipelines.lib.sql_models.materialize import BuildResult, build_model
from devsignal_pipelines.lib.sql_models.project import Model, Project
from devsignal_pipelines.lib.sql_models.schema_tests import SchemaTest, schema_tests
from devsignal_pipelines.lib.stores.warehouse import Warehouse, WarehouseTransaction

# Called with (transaction, model, as_of) after a model is built, before it commits.
AfterBuild = Callable[[WarehouseTransaction, Model, datetime], Mapping[str, object] | None]


@dataclass(frozen=True)
class TestResult:
    model: Model
    test: SchemaTest
    failing_rows: int

    @property
    def passed(self) -> bool:
        return self.failing_rows == 0


def iter_run_models(
    project: Project,
    warehouse: Warehouse,
    *,
    select: list[str] | None = None,
    full_refresh: bool = False,
    as_of: datetime | None = None,
    after_build: AfterBuild | None = None,
) -> Iterator[BuildResult]:
    """Build the selected models (all by default) in dependency order, yielding each as it lands.

    A model that fails raises after rolling back its own transaction: its previous table, and
    every model already built in this run, stay as they are.
    """
    as_of = _as_utc(as_of or datetime.now(UTC))
    for model in project.order(select):
        with warehouse.transaction() as tx:
            result = build_model(tx, project, model, as_of=as_of, full_refresh=full_refresh)
            if after_build is not None:
                # Inside the model's transaction: if the hook fails, the model rolls back too.
                result = replace(result, extra=after_build(tx, model, as_of) or {})
        yield result


def run_models(
    project: Project,
    warehouse: Warehouse,
    *,
    select: list[str] | None = None,
    full_refresh: bool = False,
    as_of: datetime | None = None,
) -> list[BuildResult]:
    return list(
        iter_run_models(project, warehouse, select=select, full_refresh=full_refresh, as_of=as_of)
    )


def run_schema_tests(project: Project, warehouse: Warehouse, model: Model) -> list[TestResult]:
    """Every schema.yml test of `model`, counted in one query (one scan per test, one round trip)."""
    tests = schema_tests(project, model)
    if not tests:
        return []
    counts = ", ".join(f"({test.sql}) AS t{i}" for i, test in enumerate(tests))
    row = warehouse.read_df(f"SELECT {counts}").iloc[0]
    return [TestResult(model, test, int(row[f"t{i}"])) for i, test in enumerate(tests)]


def parse_as_of(text: str) -> datetime:
    """An ISO 8601 time as UTC (a time without a zone is taken as UTC)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ModelError(
            f"as_of {text!r} is not an ISO 8601 time; use e.g. 2026-11-20T00:00:00+00:00"
        ) from exc
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"as_of {moment.isoformat()} needs a time zone (e.g. +00:00)")
    return moment.astimezone(UTC)
