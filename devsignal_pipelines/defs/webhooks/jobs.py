"""The delivery job: fan new outbox events out to subscriptions and send what is due."""

import dagster as dg
from pydantic import Field

from devsignal_pipelines.defs.resources import ControlDBResource
from devsignal_pipelines.lib.webhooks.delivery import deliver_due
from devsignal_pipelines.lib.webhooks.settings import load_webhook_settings

WEBHOOK_POOL = "webhook_delivery"


class DeliveryConfig(dg.Config):
    """Tuning only; secrets and targets come from the control DB and the environment."""

    batch_size: int = Field(default=2000, ge=1, description="Deliveries claimed per batch.")
    max_seconds: float = Field(
        default=600.0,
        gt=0,
        description="Stop claiming new batches after this long; the rest waits for the next run.",
    )


@dg.op(
    pool=WEBHOOK_POOL,
    description="Fans new webhook events out to the organizations' active subscriptions, then signs and POSTs "
    "every due delivery (new ones and due retries) concurrently, logging each attempt in the control DB.",
)
def deliver_webhooks(
    context: dg.OpExecutionContext, config: DeliveryConfig, control_db: ControlDBResource
) -> dg.Output:
    report = deliver_due(
        control_db.get(),
        load_webhook_settings(),
        batch_size=config.batch_size,
        max_seconds=config.max_seconds,
    )
    context.log.info(
        f"webhooks: {report.fanned_out} deliveries created, {report.attempted} attempts, "
        f"{report.succeeded} succeeded, {report.retrying} to retry, {report.failed} failed, "
        f"{report.deferred} deferred (endpoint asked to slow down)"
    )
    for subscription_id in report.subscriptions_disabled:
        context.log.warning(
            f"webhook subscription {subscription_id} disabled (410 Gone or failing for days)"
        )
    return dg.Output(None, metadata=report.as_metadata())


@dg.job(
    name="webhook_delivery",
    description="Deliver webhook events: runs after a watched asset materializes and when retries are due.",
    tags={"devsignal/kind": "webhooks"},
)
def webhook_delivery_job():
    deliver_webhooks()
