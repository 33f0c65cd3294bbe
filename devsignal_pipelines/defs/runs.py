"""Keep the concurrency pools free of runs that can no longer release their slots.

A run killed with kill -9, by the out-of-memory killer or by a reboot stays STARTED in run storage
and keeps its `warehouse` slot: on DuckDB (limit 1) every later run would wait for it forever.
Dagster's run monitoring frees the slots of runs that *ended*, but with the default run launcher
it cannot see that a run's process died. This sensor, in the daemon beside the schedules, frees
the slots of both kinds and marks a dead run failed (devsignal_pipelines/instance.py); the CLI
applies the same rule before and while each of its runs waits.
"""

import dagster as dg

from devsignal_pipelines.instance import free_stale_slots


@dg.sensor(
    name="free_stale_slots_sensor",
    description="Every minute: frees the concurrency pool slots of runs whose process died (kill -9, "
    "out of memory, reboot; the run is marked failed) or that ended without releasing them, so no "
    "dead run blocks the `warehouse` pool. Logs each run it freed.",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def free_stale_slots_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    freed = free_stale_slots(context.instance)
    for line in freed:
        context.log.warning(line)
    if not freed:
        return dg.SkipReason("every run holding a pool slot is alive")
    return dg.SkipReason(f"{len(freed)} runs' slots freed: " + "; ".join(freed))
