"""Webhook delivery in Dagster: the outbox sensor, the delivery job and the retry pickup."""

import dagster as dg

from devsignal_pipelines.defs.webhooks.jobs import webhook_delivery_job
from devsignal_pipelines.defs.webhooks.sensors import webhook_outbox_sensor, webhook_retry_sensor

jobs: list = [webhook_delivery_job]  # asset jobs and op jobs
sensors: list[dg.SensorDefinition] = [webhook_outbox_sensor, webhook_retry_sensor]
schedules: list[dg.ScheduleDefinition] = []
