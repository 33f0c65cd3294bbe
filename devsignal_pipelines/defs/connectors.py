"""Look up an organization's enabled connector for a source, or fail the run saying how to fix it."""

from typing import Any

import dagster as dg

from devsignal_pipelines.defs.resources import ControlDBResource

_CONNECT_HINT = {
    "twitter": "--keywords 'a,b' --token-env VAR_NAME",
    "stackoverflow": "--tags 'tag1,tag2' [--key-env VAR_NAME]",
    "github": "--repos 'owner/repo,owner/other' [--token-env VAR_NAME]",
}


def require_connector(
    control_db: ControlDBResource, organization_id: str, source: str
) -> dict[str, Any]:
    found = control_db.get().connectors(source=source, org_id=organization_id)
    if not found:
        raise dg.Failure(
            description=f"organization '{organization_id}' has no enabled {source} connector; connect it with: "
            f"devsignal orgs connect {organization_id} {source} {_CONNECT_HINT.get(source, '...')}",
            allow_retries=False,
        )
    return found[0]
