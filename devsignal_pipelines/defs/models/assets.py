"""dbt_like_sql as Dagster assets: one asset per model file, one check per schema.yml test.

All models build in one step (one multi-asset that can be subset): a model is a SQL statement
that takes a fraction of a second, so a process per model would cost more than the SQL.
"""

import base64
import hashlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import dagster as dg
import pandas as pd
from pydantic import Field

from devsignal_pipelines.defs.published import WAREHOUSE_JOB_HOOKS
from devsignal_pipelines.defs.resources import WAREHOUSE_POOL, ControlDBResource, WarehouseResource
from devsignal_pipelines.defs.tables import OWNERS
from devsignal_pipelines.lib.analytics_pictures import PICTURES
from devsignal_pipelines.lib.sql_models import (
    Model,
    ModelError,
    Project,
    iter_run_models,
    load_project,
    parse_as_of,
    run_schema_tests,
    schema_tests,
)
from devsignal_pipelines.lib.stores.warehouse import Warehouse, WarehouseTransaction
from devsignal_pipelines.lib.webhooks.emit import emit_score_events
from devsignal_pipelines.lib.webhooks.settings import load_webhook_settings

PROJECT = load_project()
SCORE_HISTORY_MODEL = "account_score_history"


class SqlModelsConfig(dg.Config):
    full_refresh: bool = Field(
        default=False,
        description="Rebuild incremental models from scratch (history models with "
        "full_refresh=false are kept).",
    )
    as_of: str | None = Field(
        default=None,
        description="ISO 8601 time the models treat as 'now' (scores, decay, open windows); "
        "default: the run's start (scheduled runs pass their tick's time). Re-running with the same "
        "as_of replaces that score snapshot instead of adding one.",
    )


def model_key(model: Model) -> dg.AssetKey:
    return dg.AssetKey([model.layer, model.name])


def _spec(project: Project, model: Model) -> dg.AssetSpec:
    deps = [model_key(project.model(name)) for name in model.refs]
    deps += [dg.AssetKey([schema, table]) for schema, table in model.sources]
    metadata: dict[str, object] = {
        "dagster/table_name": model.relation,
        "materialized": model.materialized,
        "path": str(model.path.relative_to(project.path.parent)),
    }
    if model.unique_key:
        metadata["unique_key"] = ", ".join(model.unique_key)
    if model.columns:
        metadata["dagster/column_schema"] = dg.TableSchema(
            columns=[
                dg.TableColumn(c.name, c.data_type, description=c.description or None)
                for c in model.columns
            ]
        )
    return dg.AssetSpec(
        key=model_key(model),
        deps=deps,
        description=model.description or f"SQL model {model.path.name}.",
        group_name=model.layer,
        kinds={"sql", "duckdb"},
        owners=OWNERS,
        code_version=hashlib.sha256(model.sql.encode()).hexdigest()[:12],
        metadata=metadata,
        skippable=True,
    )


def _check_specs(project: Project, model: Model) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(test.name, asset=model_key(model), description=test.description)
        for test in schema_tests(project, model)
    ]


def resolve_as_of(config: SqlModelsConfig) -> datetime:
    """The configured as-of time (the schedule passes its tick's), else now."""
    if config.as_of is None:
        return datetime.now(UTC).replace(microsecond=0)
    try:
        return parse_as_of(config.as_of)
    except ModelError as exc:
        raise dg.Failure(str(exc)) from exc


def models_run_config(as_of: str | None = None, full_refresh: bool = False) -> dict:
    return {"ops": {"dbt_like_sql": {"config": {"as_of": as_of, "full_refresh": full_refresh}}}}


def picture_markdown(name: str, png: bytes) -> dg.MetadataValue:
    encoded = base64.b64encode(png).decode()
    return dg.MetadataValue.md(f"![{name}](data:image/png;base64,{encoded})")


def build_sql_models_asset(
    project: Project, pictures: Mapping[str, Callable[[pd.DataFrame], bytes]] | None = None
) -> dg.AssetsDefinition:
    """One multi-asset over `project`'s models; `pictures` draws PNGs for some of them."""
    models = project.order()
    pictures = pictures or {}

    @dg.multi_asset(
        name="dbt_like_sql",
        specs=[_spec(project, m) for m in models],
        check_specs=[spec for m in models for spec in _check_specs(project, m)],
        can_subset=True,
        pool=WAREHOUSE_POOL,
    )
    def dbt_like_sql(
        context: dg.AssetExecutionContext,
        config: SqlModelsConfig,
        warehouse: WarehouseResource,
        control_db: ControlDBResource,
    ):
        with warehouse.get().session() as store:
            yield from _build(context, config, store, control_db)

    def _build(
        context: dg.AssetExecutionContext,
        config: SqlModelsConfig,
        store: Warehouse,
        control_db: ControlDBResource,
    ):
        store.ensure_tables()
        selected = [m.name for m in models if model_key(m) in context.selected_asset_keys]
        as_of = resolve_as_of(config)
        context.log.info(f"building {len(selected)} models as of {as_of.isoformat()}")
        control = control_db.get()

        def emit_events(tx: WarehouseTransaction, model: Model, as_of: datetime) -> dict:
            if model.name != SCORE_HISTORY_MODEL:
                return {}
            # score.changed / tier.changed against each account's previous snapshot, written
            # to the outbox before the snapshot commits.
            threshold = load_webhook_settings().score_change_threshold
            return {"webhook_events": emit_score_events(tx, control, as_of, threshold)}

        for result in iter_run_models(
            project,
            store,
            select=selected,
            full_refresh=config.full_refresh,
            as_of=as_of,
            after_build=emit_events,
        ):
            model = result.model
            metadata: dict[str, object] = {
                "action": result.action,
                "build_seconds": round(result.seconds, 3),
                "as_of": as_of.isoformat(),
            }
            if result.rows is not None:
                metadata["dagster/row_count"] = result.rows
            metadata.update(result.extra)
            if model.name in pictures:
                frame = store.read_df(f"SELECT * FROM {model.relation}")
                metadata["picture"] = picture_markdown(model.name, pictures[model.name](frame))
            yield dg.MaterializeResult(asset_key=model_key(model), metadata=metadata)
            for test in run_schema_tests(project, store, model):
                check_key = dg.AssetCheckKey(model_key(model), test.test.name)
                if check_key in context.selected_asset_check_keys:
                    yield dg.AssetCheckResult(
                        asset_key=model_key(model),
                        check_name=test.test.name,
                        passed=test.passed,
                        metadata={"failing_rows": test.failing_rows},
                    )

    return dbt_like_sql


sql_models = build_sql_models_asset(PROJECT, PICTURES) if PROJECT.models else None
MODEL_KEYS = [model_key(m) for m in PROJECT.order()]

sql_models_job = dg.define_asset_job(
    name="sql_models_refresh",
    description="Build the dbt_like_sql models (scores, history, analytics) and run their tests.",
    selection=dg.AssetSelection.assets(*MODEL_KEYS),
    hooks=WAREHOUSE_JOB_HOOKS,
)


@dg.schedule(
    name="sql_models_every_6_hours",
    cron_schedule="15 */6 * * *",
    job=sql_models_job,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Score accounts (one history snapshot per run, as of the tick's time) and refresh "
    "the analytics, 15 minutes past every sixth hour (after the syncs have landed). The 00:15 run "
    "is a full refresh: it also picks up what the incremental daily aggregate cannot see (signals "
    "moved to another company by identity resolution, deleted signals).",
)
def sql_models_every_6_hours(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    tick = (context.scheduled_execution_time or datetime.now(UTC)).astimezone(UTC)
    return dg.RunRequest(
        run_key=f"sql-models:{tick.isoformat()}",
        run_config=models_run_config(
            as_of=tick.replace(microsecond=0).isoformat(), full_refresh=tick.hour == 0
        ),
    )
