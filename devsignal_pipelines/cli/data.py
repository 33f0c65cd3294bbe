"""`devsignal api` and `devsignal import`: how an organization sends its own data."""

from __future__ import annotations

from pathlib import Path

import click

from devsignal_pipelines.settings import load_settings


@click.command("api")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True)
@click.option(
    "--workers", default=1, show_default=True, help="Processes serving requests (uvicorn workers)."
)
@click.option("--access-log/--no-access-log", default=False, show_default=True)
def api_cmd(host: str, port: int, workers: int, access_log: bool) -> None:
    """Serve DevSignal's HTTP API: the Segment Tracking API (/v1/track, identify, group, page,
    screen, alias, batch), CRM upserts (/api/v1/companies|contacts|deals/ID), REST-hook
    webhook subscriptions (/api/v1/webhooks) and the organization's API keys (/api/v1/api-keys).
    Every route takes an organization API key
    (`devsignal orgs api-key ORG`); Segment libraries send it as their write key."""
    import uvicorn

    uvicorn.run(
        "devsignal_pipelines.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        log_level="info",
    )


@click.command("import")
@click.argument("organization")
@click.argument("kind", type=click.Choice(["companies", "contacts", "deals", "events"]))
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl", "parquet"]),
    help="Default: from the file's extension (.csv, .jsonl / .ndjson / .json, .parquet).",
)
@click.option("--dry-run", is_flag=True, help="Check every line, write nothing.")
def import_cmd(organization: str, kind: str, file: Path, fmt: str | None, dry_run: bool) -> None:
    """Import KIND records of ORGANIZATION from FILE (a CRM export or a backfill of events).

    Columns are matched by name (see docs/first_party.md); every line is checked first and each problem
    reported with its line number; then the whole file is written in one transaction, or nothing
    is. Importing the same file again changes nothing (records are keyed by their ids, events by
    messageId)."""
    from devsignal_pipelines.lib.imports import ImportRefused, import_file
    from devsignal_pipelines.lib.stores.control import ControlDB, ControlDBError

    control = ControlDB(load_settings().control_db_url)
    control.create_all()
    bar: click.progressbar | None = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if total < 10_000:
            return
        if bar is None:
            bar = click.progressbar(
                length=total, label=f"writing {kind}", file=click.get_text_stream("stderr")
            )
            bar.__enter__()
        bar.update(done - bar.pos)
        if done >= total:
            bar.__exit__(None, None, None)

    try:
        report = import_file(
            control, organization, kind, file, fmt=fmt, dry_run=dry_run, progress=progress
        )
    except ImportRefused as exc:
        click.echo(f"{exc}:", err=True)
        for line in exc.problems:
            click.echo(f"  {line}", err=True)
        if len(exc.problems) < exc.total:
            click.echo(f"  ... only the first {len(exc.problems)} are shown", err=True)
        raise SystemExit(1) from None
    except (ValueError, ControlDBError) as exc:
        raise click.UsageError(str(exc)) from exc
    seconds = sum(report.seconds.values())
    if dry_run:
        click.echo(
            f"{file}: {report.rows} {kind} checked, no problem found (dry run: nothing written)"
        )
    elif kind == "events":
        click.echo(
            f"{organization}: {report.rows} messages from {file} in {seconds:.1f}s: {report.stored} stored, "
            f"{report.already_received} already received; they reach raw.product_events with the next "
            f"first_party_sync (or now: devsignal sync {organization} --source events)"
        )
    else:
        click.echo(
            f"{organization}: {report.rows} {kind} from {file} in {seconds:.1f}s: {report.created} created, "
            f"{report.updated} updated, {report.unchanged} unchanged"
            + (f", {report.stale} older than what is stored (ignored)" if report.stale else "")
            + f"; {report.events} webhook events"
        )
