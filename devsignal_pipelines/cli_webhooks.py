"""`devsignal webhooks ...`, `devsignal api` and `devsignal orgs api-key`."""

import click


def register(main: click.Group, orgs: click.Group) -> None:
    """Add the webhook commands to the CLI."""
