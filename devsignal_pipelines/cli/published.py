"""`devsignal read-path`: where analysts query, without ever blocking the pipeline."""

from __future__ import annotations

import sys

import click

from devsignal_pipelines.settings import load_settings


@click.command("read-path")
@click.option(
    "--publish",
    "publish_now",
    is_flag=True,
    help="Publish first: export every core.* and analytics.* table whose content changed since the "
    "last publish (the pipeline does this after each step; use it after loading data by other means).",
)
def read_path(publish_now: bool) -> None:
    """Print the DuckDB file analysts open: views over Parquet copies of the core.* and analytics.*
    tables, republished after every successful pipeline step. It never blocks the pipeline:

        duckdb -readonly "$(devsignal read-path)"

    Reopen it to see newer data. On PostgreSQL there is no copy: query the database itself."""
    settings = load_settings()
    if not settings.warehouse_is_duckdb:
        raise click.UsageError(
            "the warehouse is PostgreSQL (DEVSIGNAL_WAREHOUSE_URL): nothing is published, query it "
            'directly, e.g. psql "$DEVSIGNAL_WAREHOUSE_URL"'
        )
    if publish_now:
        from devsignal_pipelines.lib.stores.published import publish
        from devsignal_pipelines.lib.stores.warehouse import Warehouse, WarehouseLockedError

        warehouse = Warehouse(
            settings.warehouse_url, on_lock_wait=lambda m: click.echo(m, err=True)
        )
        try:
            report = publish(warehouse, settings.publish_dir, grace_s=settings.publish_grace_s)
        except WarehouseLockedError as exc:
            click.echo(f"not published: {exc}", err=True)
            sys.exit(1)
        click.echo(report.summary(), err=True)
    click.echo(str(settings.read_path))
    if not settings.read_path.exists():
        click.echo(
            "nothing published yet: it appears after the first successful sync, or run "
            "`devsignal read-path --publish`",
            err=True,
        )
        sys.exit(1)
