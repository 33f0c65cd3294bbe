"""`devsignal sql list | compile | run`: the dbt_like_sql models for analysts."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

# The model layer (sqlglot, Jinja, the project's files) is imported by the commands that use it,
# so `devsignal --help` stays fast.
from devsignal_pipelines.lib.constants import DIALECTS


@click.group("sql")
def sql() -> None:
    """The dbt_like_sql models: list them, see their SQL for DuckDB or PostgreSQL, build them."""


def _project():
    from devsignal_pipelines.lib.sql_models import ModelError, load_project

    try:
        return load_project()
    except ModelError as exc:
        raise click.ClickException(str(exc)) from exc


@sql.command("list")
def sql_list() -> None:
    """Every model in build order: table, materialization, what it reads."""
    for model in _project().order():
        reads = [*model.refs, *(f"{s}.{t}" for s, t in model.sources)]
        key = f" unique_key=({', '.join(model.unique_key)})" if model.unique_key else ""
        click.echo(f"{model.relation:<40} {model.materialized}{key}")
        click.echo(f"{'':<40} reads {', '.join(reads) or '-'}")


@sql.command("compile")
@click.argument("model")
@click.option(
    "--dialect", type=click.Choice(DIALECTS), default="duckdb", show_default=True,
    help="postgres: the sqlglot translation PostgreSQL runs.",
)  # fmt: skip
@click.option("--as-of", "as_of", help="ISO 8601 time the model treats as now (default: now, UTC).")
@click.option("--incremental", is_flag=True, help="Render with is_incremental() true.")
def sql_compile(model: str, dialect: str, as_of: str | None, incremental: bool) -> None:
    """Print MODEL's SELECT exactly as the warehouse runs it (refs resolved to tables)."""
    from devsignal_pipelines.lib.sql_models import ModelError, compile_model

    project = _project()
    try:
        click.echo(
            compile_model(
                project,
                project.model(model),
                as_of=_as_of(as_of),
                dialect=dialect,
                incremental=incremental,
                pretty=True,
            )
        )
    except ModelError as exc:
        raise click.ClickException(str(exc)) from exc


@sql.command("run")
@click.option("--select", "select", multiple=True, help="Model name (repeatable); default all.")
@click.option("--full-refresh", is_flag=True, help="Rebuild incremental models from scratch.")
@click.option("--as-of", "as_of", help="ISO 8601 'now' for scores and windows (default: now).")
@click.option(
    "--verbose", is_flag=True, help="Print Dagster's event log, with stack traces on failure."
)
def sql_run(select: tuple[str, ...], full_refresh: bool, as_of: str | None, verbose: bool) -> None:
    """Build the models through Dagster now (the job the 6-hourly schedule runs) and test them.

    Prints what the run waits for (the warehouse pool held by another run) while it waits; frees
    the slots of runs whose process died; SIGINT / SIGTERM stop it."""
    from devsignal_pipelines.definitions import defs
    from devsignal_pipelines.instance import get_instance
    from devsignal_pipelines.runner import run_sql_models

    outcome = run_sql_models(
        defs,
        get_instance(),
        select=list(select) or None,
        full_refresh=full_refresh,
        as_of=_as_of(as_of).isoformat() if as_of else None,
        on_event=lambda line: click.echo(f"  {line}"),
        on_wait=lambda line: click.echo(f"  {line}", err=True),
        verbose=verbose,
    )
    for check in outcome.failed_checks:
        click.echo(f"  check failed: {check}", err=True)
    if not outcome.success:
        click.echo(f"sql run failed{outcome.failure_line(verbose)}", err=True)
        sys.exit(outcome.exit_code)
    click.echo(f"models built in {outcome.seconds:.1f}s (run {outcome.run_id})")


def _as_of(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC).replace(microsecond=0)
    from devsignal_pipelines.lib.sql_models import ModelError, parse_as_of

    try:
        return parse_as_of(value)
    except ModelError as exc:
        raise click.BadParameter(str(exc), param_hint="--as-of") from exc
