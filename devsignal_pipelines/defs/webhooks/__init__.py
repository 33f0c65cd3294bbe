"""Webhook delivery in Dagster: the outbox sensor, the delivery job and the retry pickup."""

import dagster as dg

jobs: list = []  # asset jobs and op jobs
sensors: list[dg.SensorDefinition] = []
schedules: list[dg.ScheduleDefinition] = []
