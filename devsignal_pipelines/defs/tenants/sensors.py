"""Keep the `organizations` partitions in step with the control DB."""

import dagster as dg

from devsignal_pipelines.defs.resources import ControlDBResource
from devsignal_pipelines.defs.tenants.partitions import organizations_partitions


def partition_changes(connected: set[str], existing: set[str]) -> tuple[list[str], list[str]]:
    """Partitions to add (newly connected) and to delete (no enabled connector left)."""
    return sorted(connected - existing), sorted(existing - connected)


@dg.sensor(
    name="organizations_sensor",
    description="Adds a partition when an organization connects its first source and removes it when its last "
    "connector is disconnected. Data in the warehouse stays until purged.",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def organizations_sensor(
    context: dg.SensorEvaluationContext, control_db: ControlDBResource
) -> dg.SensorResult:
    connected = set(control_db.get().connected_organization_ids())
    existing = set(context.instance.get_dynamic_partitions(organizations_partitions.name))
    to_add, to_delete = partition_changes(connected, existing)
    requests = []
    if to_add:
        requests.append(organizations_partitions.build_add_request(to_add))
    if to_delete:
        requests.append(organizations_partitions.build_delete_request(to_delete))
    if not requests:
        return dg.SensorResult(
            skip_reason=f"{len(existing)} organization partitions already match the control DB"
        )
    context.log.info(f"adding partitions {to_add}, deleting {to_delete}")
    return dg.SensorResult(dynamic_partitions_requests=requests)
