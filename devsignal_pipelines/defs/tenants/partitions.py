"""One dynamic partition per organization (tenant), named by the organization's slug."""

import dagster as dg

organizations_partitions = dg.DynamicPartitionsDefinition(name="organizations")
