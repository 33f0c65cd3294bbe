"""`devsignal webhooks ...` and the API key commands `devsignal orgs api-key | api-keys | revoke`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

# Only light modules here (`devsignal --help` imports this one): the control DB (SQLAlchemy,
# pandas) and the webhook store are imported by the commands that use them.
from devsignal_pipelines.lib.webhooks.events import EVENT_TYPES
from devsignal_pipelines.lib.webhooks.settings import load_webhook_settings
from devsignal_pipelines.settings import load_settings

if TYPE_CHECKING:
    from devsignal_pipelines.lib.stores.control import ControlDB


def _user_errors() -> tuple[type[Exception], ...]:
    """The errors a command reports as a usage error (message only, no traceback)."""
    from devsignal_pipelines.lib.stores.control import ControlDBError
    from devsignal_pipelines.lib.webhooks.events import UnknownEventTypeError
    from devsignal_pipelines.lib.webhooks.secrets import SecretKeyError
    from devsignal_pipelines.lib.webhooks.settings import WebhookSettingsError
    from devsignal_pipelines.lib.webhooks.ssrf import UnsafeTargetError

    return (
        ControlDBError,
        UnknownEventTypeError,
        UnsafeTargetError,
        SecretKeyError,
        WebhookSettingsError,
        LookupError,
    )


def _control() -> ControlDB:
    # cli/main.py imports this module, so its _control() is re-created here rather than imported.
    from devsignal_pipelines.lib.stores.control import ControlDB

    control = ControlDB(load_settings().control_db_url)
    control.create_all()
    return control


def _fail(exc: Exception) -> click.UsageError:
    return click.UsageError(str(exc))


@click.group()
def webhooks() -> None:
    """Webhook subscriptions, their deliveries, tests and redelivery."""


@webhooks.command("subscribe")
@click.argument("organization")
@click.option("--event", "event_type", required=True, type=click.Choice(list(EVENT_TYPES)))
@click.option("--url", required=True, help="The receiver's URL (public https:// address).")
def subscribe_cmd(organization: str, event_type: str, url: str) -> None:
    """Subscribe URL to EVENT for ORGANIZATION; prints the signing secret once."""
    from devsignal_pipelines.lib.webhooks import store

    try:
        sub = store.subscribe(_control(), organization, event_type, url, load_webhook_settings())
    except _user_errors() as exc:
        raise _fail(exc) from exc
    click.echo(f"subscription {sub.id}: {organization} {event_type} -> {url}")
    click.echo(f"signing secret (shown once, store it in the receiver): {sub.secret}")


@webhooks.command("list")
@click.argument("organization", required=False)
def list_cmd(organization: str | None) -> None:
    """List subscriptions (all organizations, or ORGANIZATION's). Secrets are never shown."""
    from devsignal_pipelines.lib.webhooks import store

    subs = store.list_subscriptions(_control(), organization)
    if not subs:
        click.echo(
            "no webhook subscriptions; add one with: devsignal webhooks subscribe ORG --event TYPE --url URL"
        )
    for s in subs:
        reason = f" ({s['status_reason']})" if s["status_reason"] else ""
        click.echo(
            f"{s['id']}\t{s['organization_id']}\t{s['event_type']}\t{s['status']}{reason}\t{s['url']}"
        )


@webhooks.command("score-threshold")
@click.argument("organization")
@click.argument("points", type=float, required=False)
@click.option("--default", "use_default", is_flag=True, help="Forget ORGANIZATION's own threshold.")
def score_threshold_cmd(organization: str, points: float | None, use_default: bool) -> None:
    """Show or set how many points an account's score must move, since the last event sent for
    it, before score.changed is sent to ORGANIZATION's subscribers (tier.changed is always
    sent). Default: DEVSIGNAL_WEBHOOK_SCORE_THRESHOLD (5)."""
    if points is not None and use_default:
        raise click.UsageError("give POINTS or --default, not both")
    control = _control()
    try:
        if points is not None or use_default:
            control.set_score_threshold(organization, None if use_default else points)
        else:
            with control.engine.connect() as conn:
                control.require_organization(conn, organization)
        default = load_webhook_settings().score_change_threshold
        own = control.score_thresholds().get(organization)
    except _user_errors() as exc:
        raise _fail(exc) from exc
    where = "its own" if own is not None else "the default, DEVSIGNAL_WEBHOOK_SCORE_THRESHOLD"
    click.echo(
        f"{organization}: score.changed after a move of {own if own is not None else default:g} "
        f"points ({where}); tier.changed always"
    )


def _set_status(subscription_id: str, status: str, verb: str) -> None:
    from devsignal_pipelines.lib.webhooks import store

    try:
        store.set_status(_control(), subscription_id, status)
    except _user_errors() as exc:
        raise _fail(exc) from exc
    click.echo(f"subscription {subscription_id} {verb}")


@webhooks.command("pause")
@click.argument("subscription_id")
def pause_cmd(subscription_id: str) -> None:
    """Stop sending to a subscription; its pending deliveries wait until it is resumed."""
    _set_status(subscription_id, "paused", "paused")


@webhooks.command("resume")
@click.argument("subscription_id")
def resume_cmd(subscription_id: str) -> None:
    """Send to a paused or disabled subscription again (failed deliveries: see `redeliver`)."""
    _set_status(subscription_id, "active", "resumed")


@webhooks.command("delete")
@click.argument("subscription_id")
def delete_cmd(subscription_id: str) -> None:
    """Delete a subscription; pending deliveries are cancelled, the delivery log is kept."""
    _set_status(subscription_id, "deleted", "deleted")


@webhooks.command("test")
@click.argument("subscription_id")
def test_cmd(subscription_id: str) -> None:
    """Send the sample payload of the subscription's event type to it now (one attempt, logged)."""
    from devsignal_pipelines.lib.webhooks.testsend import send_test

    try:
        result = send_test(_control(), subscription_id, load_webhook_settings())
    except _user_errors() as exc:
        raise _fail(exc) from exc
    click.echo(
        f"test {result['event_id']} to {subscription_id}: {result['status']}"
        + (f" (HTTP {result['status_code']})" if result["status_code"] else "")
        + (f": {result['error']}" if result["error"] else "")
    )
    if result["status"] != "succeeded":
        raise SystemExit(1)


@webhooks.command("deliveries")
@click.argument("organization", required=False)
@click.option("--failed", is_flag=True, help="Only deliveries that failed after their last retry.")
@click.option("--subscription", "subscription_id", help="Only this subscription's deliveries.")
@click.option("--limit", default=50, show_default=True)
def deliveries_cmd(
    organization: str | None, failed: bool, subscription_id: str | None, limit: int
) -> None:
    """The delivery log, newest first: one line per (event, subscription)."""
    from devsignal_pipelines.lib.webhooks import store

    frame = store.deliveries(
        _control(), organization, subscription_id, "failed" if failed else None, limit
    )
    if frame.empty:
        click.echo("no deliveries")
    for d in frame.itertuples():
        code = (
            ""
            if d.last_status_code != d.last_status_code or d.last_status_code is None
            else f" HTTP {int(d.last_status_code)}"
        )
        error = f" {d.last_error}" if isinstance(d.last_error, str) and d.last_error else ""
        click.echo(
            f"{d.id}\t{d.organization_id}\t{d.subscription_id}\t{d.event_type}\t{d.event_id}\t"
            f"{d.status}\tattempts={d.attempts}{code}{error}"
        )


@webhooks.command("redeliver")
@click.argument("delivery_ids", nargs=-1, type=int)
@click.option("--org", "organization", help="Every failed delivery of this organization.")
@click.option(
    "--subscription", "subscription_id", help="Every failed delivery of this subscription."
)
def redeliver_cmd(
    delivery_ids: tuple[int, ...], organization: str | None, subscription_id: str | None
) -> None:
    """Queue failed (or cancelled) deliveries again with a fresh retry schedule and the same webhook id.

    Give delivery ids (see `deliveries --failed`), or --org / --subscription for all their failed ones.
    The next webhook_delivery run sends them (the retry sensor requests it).
    """
    from devsignal_pipelines.lib.webhooks import store

    if not (delivery_ids or organization or subscription_id):
        raise click.UsageError("give DELIVERY_IDS, or --org ORG, or --subscription ID")
    count = store.redeliver(_control(), list(delivery_ids) or None, organization, subscription_id)
    click.echo(f"{count} deliveries queued for redelivery")


@click.command("api-key")
@click.argument("organization")
@click.option(
    "--expires-in",
    help="Refuse the key after this long: a whole number and s, m, h, d or w (e.g. 90d, 12h). "
    "Default: it never expires (revoke it with `devsignal orgs revoke`).",
)
def api_key_cmd(organization: str, expires_in: str | None) -> None:
    """Create an API key for ORGANIZATION (shown once; only its hash and prefix are stored)."""
    from devsignal_pipelines.lib.webhooks import store

    try:
        lifetime = store.parse_expires_in(expires_in) if expires_in is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--expires-in") from exc
    try:
        new = store.issue_api_key(_control(), organization, lifetime)
    except _user_errors() as exc:
        raise _fail(exc) from exc
    expiry = f", expires {_when(new.expires_at)}" if new.expires_at else ""
    click.echo(
        f"API key {new.id} ({new.prefix}…) for {organization}{expiry} "
        f"(shown once, store it now): {new.key}"
    )


@click.command("api-keys")
@click.argument("organization")
def api_keys_cmd(organization: str) -> None:
    """List ORGANIZATION's API keys: prefix, id, status, created, last used (to within 10 s),
    expires, revoked. Never the keys themselves."""
    from devsignal_pipelines.lib.stores.control import ControlDBError
    from devsignal_pipelines.lib.webhooks import store

    control = _control()
    with control.begin() as conn:
        try:
            control.require_organization(conn, organization)
        except ControlDBError as exc:
            raise _fail(exc) from exc
    rows = store.list_api_keys(control, organization)
    if not rows:
        click.echo(
            f"no API keys for {organization}; create one with: devsignal orgs api-key {organization}"
        )
        return
    click.echo("PREFIX\tID\tSTATUS\tCREATED\tLAST USED\tEXPIRES\tREVOKED")
    for k in rows:
        click.echo(
            f"{k['prefix']}…\t{k['id']}\t{k['status']}\t{_when(k['created_at'])}\t"
            f"{_when(k['last_used_at'])}\t{_when(k['expires_at'], 'never')}\t{_when(k['revoked_at'])}"
        )


@click.command("revoke")
@click.argument("key_prefix")
@click.option("--org", "organization", help="Only a key of this organization.")
def revoke_cmd(key_prefix: str, organization: str | None) -> None:
    """Revoke the API key KEY_PREFIX (the dsk_… prefix `api-keys` shows, or the key id).

    Every API path refuses it with a 401 at once in new processes, and within 10 s in a running
    `devsignal api` (its key cache)."""
    from devsignal_pipelines.lib.webhooks import store

    try:
        key = store.revoke_api_key(_control(), key_prefix, organization)
    except _user_errors() as exc:
        raise _fail(exc) from exc
    if key["already_revoked"]:
        click.echo(f"API key {key['id']} ({key['prefix']}…) of {key['organization_id']} was "
                   f"already revoked at {_when(key['revoked_at'])}")  # fmt: skip
        return
    click.echo(
        f"revoked API key {key['id']} ({key['prefix']}…) of {key['organization_id']}; "
        "running `devsignal api` processes refuse it within 10 s"
    )


def _when(value, default: str = "-") -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value is not None else default


def register(main: click.Group, orgs: click.Group) -> None:
    """Add the webhook commands to the CLI."""
    main.add_command(webhooks)
    orgs.add_command(api_key_cmd)
    orgs.add_command(api_keys_cmd)
    orgs.add_command(revoke_cmd)
