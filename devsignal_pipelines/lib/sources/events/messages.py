"""Segment Tracking API messages -> intake rows, checked one message at a time.

The shapes are Segment's spec (https://segment.com/docs/connections/spec/): `track`, `identify`,
`group`, `page`, `screen` and `alias` messages with `messageId`, `userId` / `anonymousId`,
`timestamp`, `sentAt`, `context`, `properties` / `traits`, alone or in a `/v1/batch` envelope
(`batch`, `sentAt`, `context` merged into each message, `writeKey`). msgspec decodes and type-checks
each message in C (tens of microseconds for a batch of 100); `properties`, `traits` and `context`
stay raw JSON text, only checked to be objects, and are stored as sent.

What Segment does and this does too:
- a message is at most 32 KB and a batch at most 500 KB (the API refuses larger bodies while
  reading them) and 2,500 messages;
- `userId` or `anonymousId` is required; `track` needs `event`, `group` needs `groupId`, `alias`
  needs `previousId`; `messageId` is at most 100 characters;
- `timestamp` is corrected for the client's clock skew: receivedAt - (sentAt - timestamp), when
  `sentAt` is sent; without `timestamp`, the message happened when it was received;
- a message without `messageId` gets one derived from its bytes, so a client that retries the same
  body does not count it twice.
What the warehouses need on top: ids and names without control characters, no NUL (`\u0000`)
anywhere in the message (PostgreSQL text cannot hold it), and times between 1970 and 2200.
Each problem names the message (its index in the batch and its messageId) and the field.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec

MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_BATCH_MESSAGES = 2500
MESSAGE_TYPES = ("track", "identify", "group", "page", "screen", "alias")

# msgspec.Raw cannot sit in a union with None: an empty Raw means "not sent" (see _present).
_ABSENT = msgspec.Raw()
_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=255)] | int
_Name = Annotated[str, msgspec.Meta(max_length=200)]


class _Message(msgspec.Struct, kw_only=True, tag_field="type", forbid_unknown_fields=False):
    messageId: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | None = None
    userId: _Id | None = None
    anonymousId: _Id | None = None
    timestamp: datetime | None = None
    originalTimestamp: datetime | None = None
    sentAt: datetime | None = None
    context: msgspec.Raw = _ABSENT
    integrations: msgspec.Raw = _ABSENT


class Track(_Message, tag="track"):
    event: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    properties: msgspec.Raw = _ABSENT


class Identify(_Message, tag="identify"):
    traits: msgspec.Raw = _ABSENT


class Group(_Message, tag="group"):
    groupId: _Id
    traits: msgspec.Raw = _ABSENT


class Page(_Message, tag="page"):
    name: _Name | None = None
    category: _Name | None = None
    properties: msgspec.Raw = _ABSENT


class Screen(_Message, tag="screen"):
    name: _Name | None = None
    category: _Name | None = None
    properties: msgspec.Raw = _ABSENT


class Alias(_Message, tag="alias"):
    previousId: _Id


Message = Track | Identify | Group | Page | Screen | Alias
_BY_TYPE: dict[str, type] = {
    "track": Track,
    "identify": Identify,
    "group": Group,
    "page": Page,
    "screen": Screen,
    "alias": Alias,
}


class Envelope(msgspec.Struct, kw_only=True):
    batch: list[msgspec.Raw]
    sentAt: datetime | None = None
    context: msgspec.Raw = _ABSENT
    integrations: msgspec.Raw = _ABSENT
    writeKey: str | None = None


class _KeyOnly(msgspec.Struct, kw_only=True):
    writeKey: str | None = None


_ENVELOPE = msgspec.json.Decoder(Envelope)
_ANY_MESSAGE = msgspec.json.Decoder(Message)
_ONE = {name: msgspec.json.Decoder(kind) for name, kind in _BY_TYPE.items()}
_KEY_ONLY = msgspec.json.Decoder(_KeyOnly)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")  # \u0000 not preceded by a lone backslash
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(2200, 1, 1, tzinfo=UTC)
_MISSING = re.compile(r"missing required field `([^`]+)`")
_PATH = re.compile(r"^(?P<why>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)

# Columns of an intake row, in order (lib/stores/control.event_intake).
INTAKE_COLUMNS = (
    "organization_id",
    "message_id",
    "type",
    "event",
    "name",
    "user_id",
    "anonymous_id",
    "group_id",
    "previous_id",
    "occurred_at",
    "original_timestamp",
    "sent_at",
    "received_at",
    "properties",
    "traits",
    "context",
    "via",
)


class BodyError(ValueError):
    """The request body as a whole is unusable (not JSON, not an object, too deep, too large)."""


@dataclass(frozen=True)
class MessageError:
    index: int  # position in the batch (0 for a single message)
    message_id: str | None
    field: str
    message: str

    def as_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "messageId": self.message_id,
            "field": self.field,
            "message": self.message,
        }

    def __str__(self) -> str:
        who = f"message {self.index}" + (f" ({self.message_id})" if self.message_id else "")
        return f"{who}: {self.field}: {self.message}"


@dataclass
class Parsed:
    rows: list[tuple]  # intake rows, INTAKE_COLUMNS order
    errors: list[MessageError]
    write_key: str | None = None


def write_key_of(body: bytes) -> str | None:
    """The `writeKey` in a body (Segment accepts it there as well as in the Basic auth header)."""
    try:
        return _KEY_ONLY.decode(body).writeKey
    except (msgspec.DecodeError, RecursionError):
        return None


def parse_body(
    body: bytes,
    organization_id: str,
    received_at: datetime,
    *,
    message_type: str | None = None,
    via: str = "api",
) -> Parsed:
    """Parse `/v1/batch` (message_type None) or a single `/v1/<type>` body into intake rows.

    Raises BodyError when the body itself is unusable; a bad message inside a batch is reported
    in `errors` and the others are kept (Segment checks messages one by one too).
    """
    if message_type is not None:
        if len(body) > MAX_MESSAGE_BYTES:
            raise BodyError(f"a message is at most {MAX_MESSAGE_BYTES // 1024} KB")
        rows: list[tuple] = []
        errors: list[MessageError] = []
        _one(
            body, 0, _ONE[message_type], organization_id, received_at, None, None, via, rows, errors
        )
        return Parsed(rows, errors, write_key_of(body) if rows or errors else None)
    try:
        envelope = _ENVELOPE.decode(body)
    except RecursionError:
        raise BodyError("the JSON is nested too deeply") from None
    except msgspec.ValidationError as exc:
        why, path = _split(str(exc))
        raise BodyError(f"{path or 'body'}: {why}") from None
    except msgspec.DecodeError as exc:
        raise BodyError(f"the body is not valid JSON ({exc})") from None
    if len(envelope.batch) > MAX_BATCH_MESSAGES:
        raise BodyError(f"a batch holds at most {MAX_BATCH_MESSAGES} messages")
    shared_context = _object(envelope.context)
    rows, errors = [], []
    for index, raw in enumerate(envelope.batch):
        _one(
            raw,
            index,
            _ANY_MESSAGE,
            organization_id,
            received_at,
            envelope.sentAt,
            shared_context,
            via,
            rows,
            errors,
            in_batch=True,
        )
    return Parsed(rows, errors, envelope.writeKey)


def parse_message(
    raw: bytes | str, organization_id: str, received_at: datetime, via: str = "import"
) -> tuple[tuple | None, MessageError | None]:
    """One message of any type (a JSON-lines import): its intake row, or what is wrong with it."""
    rows: list[tuple] = []
    errors: list[MessageError] = []
    data = raw.encode() if isinstance(raw, str) else raw
    if len(data) > MAX_MESSAGE_BYTES:
        return None, MessageError(
            0, None, "body", f"a message is at most {MAX_MESSAGE_BYTES // 1024} KB"
        )
    _one(data, 0, _ANY_MESSAGE, organization_id, received_at, None, None, via, rows, errors)
    return (rows[0] if rows else None), (errors[0] if errors else None)


def _one(
    raw: Any,
    index: int,
    decoder: msgspec.json.Decoder,
    organization_id: str,
    received_at: datetime,
    batch_sent_at: datetime | None,
    shared_context: dict | None,
    via: str,
    rows: list[tuple],
    errors: list[MessageError],
    in_batch: bool = False,
) -> None:
    data = bytes(raw)
    if in_batch and len(data) > MAX_MESSAGE_BYTES:
        errors.append(
            MessageError(index, None, "message", f"larger than {MAX_MESSAGE_BYTES // 1024} KB")
        )
        return
    try:
        message = decoder.decode(data)
    except RecursionError:
        errors.append(MessageError(index, None, "message", "the JSON is nested too deeply"))
        return
    except msgspec.ValidationError as exc:
        why, path = _split(str(exc))
        errors.append(MessageError(index, _message_id_of(data), path or "message", why))
        return
    except msgspec.DecodeError as exc:
        errors.append(MessageError(index, None, "message", f"not valid JSON ({exc})"))
        return
    problem = _check(message, data)
    if problem:
        errors.append(MessageError(index, message.messageId, *problem))
        return
    try:
        row = _row(message, data, organization_id, received_at, batch_sent_at, shared_context, via)
    except _Invalid as exc:
        errors.append(MessageError(index, message.messageId, exc.field, exc.message))
        return
    rows.append(row)


def _split(text: str) -> tuple[str, str]:
    """msgspec's message -> (what is wrong, the field's path): a missing field is named too."""
    match = _PATH.match(text)
    assert match is not None
    path = (match.group("path") or "").lstrip(".")
    missing = _MISSING.search(match.group("why"))
    if missing:
        path = f"{path}.{missing.group(1)}" if path else missing.group(1)
        return f"`{missing.group(1)}` is required", path
    return match.group("why"), path


def _message_id_of(data: bytes) -> str | None:
    try:
        value = msgspec.json.decode(data, type=dict).get("messageId")
    except (msgspec.DecodeError, RecursionError, msgspec.ValidationError):
        return None
    return value if isinstance(value, str) else None


class _Invalid(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def _check(message: Any, data: bytes) -> tuple[str, str] | None:
    if message.userId is None and message.anonymousId is None:
        return "userId", "userId or anonymousId is required"
    for name in ("messageId", "userId", "anonymousId", "groupId", "previousId", "event", "name"):
        value = getattr(message, name, None)
        if isinstance(value, str) and _CONTROL.search(value):
            return name, "must not contain control characters (tabs, newlines, NUL...)"
    if _NUL_ESCAPE.search(data):
        return "message", "contains a NUL character (\\u0000), which cannot be stored; remove it"
    for name in ("properties", "traits", "context", "integrations"):
        value = getattr(message, name, None)
        if not _is_object(value):
            return name, "must be a JSON object"
    return None


def _present(raw: msgspec.Raw | None) -> bytes | None:
    """The raw JSON of a field, or None when it was not sent or sent as null."""
    if raw is None:
        return None
    data = bytes(raw).strip()
    return None if not data or data == b"null" else data


def _is_object(raw: msgspec.Raw) -> bool:
    data = _present(raw)
    return data is None or data[:1] == b"{"


def _object(raw: msgspec.Raw | None) -> dict | None:
    if _present(raw) is None:
        return None
    value = msgspec.json.decode(bytes(raw))
    if not isinstance(value, dict):
        raise BodyError("context: must be a JSON object")
    return value


def _text(raw: msgspec.Raw | None) -> str | None:
    data = _present(raw)
    return None if data is None else data.decode()


def _utc(value: datetime | None, field: str) -> datetime | None:
    if value is None:
        return None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    _in_range(value, field)
    return value


def _in_range(value: datetime, field: str) -> None:
    if not _EARLIEST <= value < _LATEST:
        raise _Invalid(field, f"{value.isoformat()} is out of range (1970 to 2200)")


def _id(value: str | int | None) -> str | None:
    return None if value is None else str(value)


def _row(
    message: Any,
    data: bytes,
    organization_id: str,
    received_at: datetime,
    batch_sent_at: datetime | None,
    shared_context: dict | None,
    via: str,
) -> tuple:
    original = _utc(
        message.timestamp or message.originalTimestamp,
        "timestamp" if message.timestamp else "originalTimestamp",
    )
    sent_at = _utc(message.sentAt or batch_sent_at, "sentAt")
    if original is None:
        occurred = received_at
    elif sent_at is not None:
        occurred = received_at - (sent_at - original)  # Segment's clock-skew correction
        _in_range(occurred, "timestamp (corrected by sentAt for the client's clock)")
    else:
        occurred = original
    context = _text(message.context)
    if shared_context:
        merged = {**shared_context, **(_object(message.context) or {})}
        context = msgspec.json.encode(merged).decode()
    message_id = message.messageId or "dsg-" + hashlib.sha256(data).hexdigest()[:40]
    kind = type(message).__struct_config__.tag
    return (
        organization_id,
        message_id,
        kind,
        getattr(message, "event", None),
        getattr(message, "name", None),
        _id(message.userId),
        _id(message.anonymousId),
        _id(getattr(message, "groupId", None)),
        _id(getattr(message, "previousId", None)),
        occurred,
        original,
        sent_at,
        received_at,
        _text(getattr(message, "properties", None)),
        _text(getattr(message, "traits", None)),
        context,
        via,
    )
