"""Segment Tracking API bodies -> intake rows: the published payloads, Segment's rules, the limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devsignal_pipelines.lib.sources.events.messages import (
    INTAKE_COLUMNS,
    MAX_BATCH_MESSAGES,
    MAX_MESSAGE_BYTES,
    BodyError,
    MessageError,
    Parsed,
    parse_body,
    parse_message,
    write_key_of,
)
from tests.conftest import SHARED

SEGMENT = SHARED / "fixtures" / "segment"
FIXTURES = sorted(p for p in SEGMENT.glob("*.json") if p.name != "provenance.json")
BATCH_FIXTURES = [p for p in FIXTURES if "batch" in json.loads(p.read_bytes())]
SINGLE_FIXTURES = [p for p in FIXTURES if p not in BATCH_FIXTURES]
GO_BATCHES = [p for p in FIXTURES if p.name.startswith("go_batch_")]

RECEIVED = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
ORG = "acme"


def col(row: tuple, name: str) -> Any:
    return row[INTAKE_COLUMNS.index(name)]


def encode(value: Any) -> bytes:
    return json.dumps(value).encode()


def batch(*messages: dict, **envelope: Any) -> Parsed:
    return parse_body(encode({"batch": list(messages), **envelope}), ORG, RECEIVED)


def single(message: dict, message_type: str) -> Parsed:
    return parse_body(encode(message), ORG, RECEIVED, message_type=message_type)


def track(**fields: Any) -> dict:
    return {"type": "track", "event": "Signed Up", "userId": "u-1", **fields}


def only_error(parsed: Parsed) -> MessageError:
    assert parsed.rows == []
    assert len(parsed.errors) == 1, parsed.errors
    return parsed.errors[0]


# --- the published payloads -------------------------------------------------------------------


def test_the_fixture_folder_holds_batches_and_single_messages() -> None:
    assert len(BATCH_FIXTURES) >= 10
    assert {p.name for p in SINGLE_FIXTURES} >= {
        "track_example.json",
        "identify_example.json",
        "http_api_identify_example.json",
    }


@pytest.mark.parametrize("path", BATCH_FIXTURES, ids=lambda p: p.name)
def test_every_published_batch_parses_into_one_row_per_valid_message(path: Path) -> None:
    body = path.read_bytes()
    parsed = parse_body(body, ORG, RECEIVED)
    messages = json.loads(body)["batch"]
    assert len(parsed.rows) + len(parsed.errors) == len(messages)
    for row in parsed.rows:
        assert len(row) == len(INTAKE_COLUMNS)
        assert col(row, "organization_id") == ORG
        assert col(row, "via") == "api"
        assert col(row, "received_at") == RECEIVED
        assert col(row, "occurred_at").tzinfo is not None
        assert col(row, "message_id")


@pytest.mark.parametrize("path", SINGLE_FIXTURES, ids=lambda p: p.name)
def test_every_published_single_message_parses_on_the_endpoint_of_its_type(path: Path) -> None:
    body = path.read_bytes()
    message = json.loads(body)
    message_type = message.get("type", "identify")  # the HTTP API example is a /v1/identify body
    parsed = parse_body(body, ORG, RECEIVED, message_type=message_type)
    assert parsed.errors == []
    [row] = parsed.rows
    assert col(row, "type") == message_type
    assert col(row, "user_id") == message["userId"]
    assert col(row, "anonymous_id") == message.get("anonymousId")
    if "messageId" in message:
        assert col(row, "message_id") == message["messageId"]
    for field in ("properties", "traits", "context"):
        if field in message:
            assert json.loads(col(row, field)) == message[field]  # stored as sent


def test_the_http_api_batch_example_keeps_two_rows_and_names_the_two_bad_timestamps() -> None:
    parsed = parse_body((SEGMENT / "http_api_batch_example.json").read_bytes(), ORG, RECEIVED)
    assert [(col(r, "type"), col(r, "user_id")) for r in parsed.rows] == [
        ("identify", "019mr8mf4r"),
        ("track", "019mr8mf4r"),
    ]
    assert [(e.index, e.field) for e in parsed.errors] == [(2, "timestamp"), (3, "timestamp")]
    assert parsed.write_key == "YOUR_WRITE_KEY"
    # the envelope's context reaches every message
    for row in parsed.rows:
        assert json.loads(col(row, "context"))["device"]["name"] == "Apple iPhone 6"


@pytest.mark.parametrize("path", GO_BATCHES, ids=lambda p: p.name)
def test_analytics_go_batches_keep_their_mocked_message_id(path: Path) -> None:
    parsed = parse_body(path.read_bytes(), ORG, RECEIVED)
    assert parsed.errors == []
    expected = [m["messageId"] for m in json.loads(path.read_bytes())["batch"]]
    assert [col(r, "message_id") for r in parsed.rows] == expected
    if path.name != "go_batch_messageid_track.json":
        assert set(expected) == {"I'm unique"}


def test_a_repeated_message_id_inside_one_batch_is_not_refused() -> None:
    parsed = parse_body((SEGMENT / "go_batch_many_track.json").read_bytes(), ORG, RECEIVED)
    assert len(parsed.rows) == 3  # dedup by messageId is the store's job, not the parser's
    assert {col(r, "message_id") for r in parsed.rows} == {"I'm unique"}


def test_the_track_example_is_corrected_for_its_clock_skew() -> None:
    parsed = single(json.loads((SEGMENT / "track_example.json").read_text()), "track")
    [row] = parsed.rows
    # timestamp 19:11:01.249, sentAt 19:11:01.169: the device clock ran 80 ms behind
    assert col(row, "occurred_at") == RECEIVED + timedelta(milliseconds=80)
    assert col(row, "event") == "Course Clicked"


# --- timestamps -------------------------------------------------------------------------------


def test_occurred_at_is_received_minus_the_clients_send_delay() -> None:
    t = datetime(2026, 3, 1, 10, 0, 0, tzinfo=UTC)
    s = t + timedelta(minutes=5, seconds=3)
    parsed = batch(track(timestamp=t.isoformat(), sentAt=s.isoformat()))
    [row] = parsed.rows
    assert col(row, "occurred_at") == RECEIVED - (s - t)
    assert col(row, "original_timestamp") == t
    assert col(row, "sent_at") == s
    assert col(row, "received_at") == RECEIVED


def test_without_sent_at_the_timestamp_is_taken_as_is() -> None:
    [row] = batch(track(timestamp="2026-02-28T08:30:00Z")).rows
    assert col(row, "occurred_at") == datetime(2026, 2, 28, 8, 30, tzinfo=UTC)
    assert col(row, "sent_at") is None


def test_without_timestamp_the_message_happened_when_it_was_received() -> None:
    [row] = batch(track(sentAt="2026-02-28T08:30:00Z")).rows
    assert col(row, "occurred_at") == RECEIVED
    assert col(row, "original_timestamp") is None


def test_original_timestamp_stands_in_for_a_missing_timestamp() -> None:
    [row] = batch(
        track(originalTimestamp="2026-03-01T11:00:00Z", sentAt="2026-03-01T11:00:02Z")
    ).rows
    assert col(row, "occurred_at") == RECEIVED - timedelta(seconds=2)


def test_the_batch_sent_at_applies_to_every_message_unless_a_message_has_its_own() -> None:
    parsed = batch(
        track(timestamp="2026-03-01T11:00:00Z"),
        track(timestamp="2026-03-01T11:00:00Z", sentAt="2026-03-01T11:00:30Z"),
        sentAt="2026-03-01T11:00:10Z",
    )
    first, second = parsed.rows
    assert col(first, "occurred_at") == RECEIVED - timedelta(seconds=10)
    assert col(first, "sent_at") == datetime(2026, 3, 1, 11, 0, 10, tzinfo=UTC)
    assert col(second, "occurred_at") == RECEIVED - timedelta(seconds=30)


def test_naive_timestamps_are_utc_and_offsets_are_converted_to_utc() -> None:
    naive, offset = batch(
        track(timestamp="2026-03-01T11:00:00"),
        track(timestamp="2026-03-01T11:00:00+02:00"),
    ).rows
    assert col(naive, "occurred_at") == datetime(2026, 3, 1, 11, 0, tzinfo=UTC)
    assert col(offset, "occurred_at") == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    assert col(offset, "original_timestamp").utcoffset() == timedelta(0)


def test_naive_sent_at_in_the_envelope_is_utc_too() -> None:
    [row] = batch(track(timestamp="2026-03-01T11:00:00Z"), sentAt="2026-03-01T11:00:04").rows
    assert col(row, "occurred_at") == RECEIVED - timedelta(seconds=4)


# --- derived message ids ----------------------------------------------------------------------


def test_a_message_without_message_id_gets_one_derived_from_its_bytes() -> None:
    body = b'{"type": "track", "event": "Signed Up", "userId": "u-1"}'
    again = b'{"type": "track", "event": "Signed Up", "userId": "u-1"}'
    other = b'{"type": "track", "event": "Signed Up", "userId": "u-2"}'
    spaced = b'{"type": "track",  "event": "Signed Up", "userId": "u-1"}'
    ids = [
        col(parse_body(b, ORG, RECEIVED, message_type="track").rows[0], "message_id")
        for b in (body, again, other, spaced)
    ]
    assert ids[0].startswith("dsg-") and len(ids[0]) > len("dsg-")
    assert ids[0] == ids[1]  # a retried body is the same message
    assert ids[0] != ids[2]
    assert ids[0] != ids[3]  # other bytes, other id


def test_a_retried_message_keeps_its_derived_id_whatever_the_envelope_says() -> None:
    message = track(timestamp="2026-03-01T11:00:00Z")
    first = batch(message, sentAt="2026-03-01T11:00:01Z").rows[0]
    retry = batch(message, sentAt="2026-03-01T11:05:00Z").rows[0]
    assert col(first, "message_id") == col(retry, "message_id")
    assert col(first, "message_id").startswith("dsg-")


def test_two_different_messages_in_one_batch_get_different_derived_ids() -> None:
    a, b = batch(track(userId="a"), track(userId="b")).rows
    assert col(a, "message_id") != col(b, "message_id")


# --- Segment's rules, one message at a time ---------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        {"type": "track", "event": "Signed Up"},
        {"type": "identify", "traits": {"plan": "pro"}},
        {"type": "identify", "userId": None, "anonymousId": None},
    ],
    ids=["track", "identify", "both-null"],
)
def test_user_id_or_anonymous_id_is_required(message: dict) -> None:
    error = only_error(batch(message))
    assert error.field == "userId"
    assert "anonymousId" in error.message


@pytest.mark.parametrize(
    "message",
    [
        {"type": "identify", "anonymousId": "anon-1"},
        {"type": "identify", "userId": "u-1"},
    ],
)
def test_either_user_id_or_anonymous_id_is_enough(message: dict) -> None:
    assert len(batch(message).rows) == 1


def test_numeric_user_and_anonymous_ids_become_strings() -> None:
    [row] = batch({"type": "identify", "userId": 123456, "anonymousId": 7}).rows
    assert col(row, "user_id") == "123456"
    assert col(row, "anonymous_id") == "7"
    [row] = batch({"type": "group", "userId": "u", "groupId": 42}).rows
    assert col(row, "group_id") == "42"


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"type": "track", "userId": "u"}, "event"),
        ({"type": "group", "userId": "u"}, "groupId"),
        ({"type": "alias", "userId": "u"}, "previousId"),
        ({"userId": "u", "event": "Signed Up"}, "type"),
    ],
    ids=["track-event", "group-groupId", "alias-previousId", "batch-item-type"],
)
def test_a_missing_required_field_is_named_as_the_field(message: dict, field: str) -> None:
    assert only_error(batch(message)).field == field


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"type": "track", "userId": "u"}, "event"),
        ({"type": "group", "userId": "u"}, "groupId"),
        ({"type": "alias", "userId": "u"}, "previousId"),
    ],
)
def test_a_message_missing_its_types_required_field_is_refused(message: dict, field: str) -> None:
    error = only_error(batch(message))
    assert f"`{field}`" in error.message


def test_a_track_with_an_empty_event_name_is_refused() -> None:
    assert only_error(batch(track(event=""))).field == "event"


@pytest.mark.parametrize("field", ["properties", "context", "integrations"])
@pytest.mark.parametrize("value", [[1, 2], "text", 5, True])
def test_properties_context_and_integrations_must_be_objects(field: str, value: Any) -> None:
    error = only_error(batch(track(**{field: value})))
    assert error.field == field
    assert "object" in error.message


@pytest.mark.parametrize("value", [["a"], "text"])
def test_traits_must_be_an_object(value: Any) -> None:
    error = only_error(batch({"type": "identify", "userId": "u", "traits": value}))
    assert error.field == "traits"


def test_json_null_counts_as_absent() -> None:
    [row] = batch(
        {"type": "identify", "userId": "u", "traits": None, "context": None, "integrations": None}
    ).rows
    assert col(row, "traits") is None
    assert col(row, "context") is None
    [row] = batch(track(properties=None)).rows
    assert col(row, "properties") is None


def test_properties_are_stored_as_the_raw_json_sent() -> None:
    [row] = batch(track(properties={"plan": "pro", "seats": 3, "nested": {"a": [1, 2]}})).rows
    assert json.loads(col(row, "properties")) == {
        "plan": "pro",
        "seats": 3,
        "nested": {"a": [1, 2]},
    }


def test_message_id_is_at_most_100_characters() -> None:
    assert batch(track(messageId="m" * 100)).rows
    error = only_error(batch(track(messageId="m" * 101)))
    assert error.field == "messageId"
    assert "100" in error.message


def test_an_unknown_type_is_an_error_on_type() -> None:
    error = only_error(batch({"type": "purchase", "userId": "u"}))
    assert error.field == "type"
    assert "purchase" in error.message


@pytest.mark.parametrize("item", [1, "text", None, [1]])
def test_a_batch_item_that_is_not_an_object_is_a_message_error(item: Any) -> None:
    parsed = parse_body(encode({"batch": [item, track()]}), ORG, RECEIVED)
    assert len(parsed.rows) == 1
    assert [e.index for e in parsed.errors] == [0]


def test_an_error_names_the_message_by_index_and_message_id() -> None:
    parsed = batch(
        track(messageId="m-0"),
        track(messageId="m-1", timestamp="yesterday"),
        track(messageId="m-2", properties=[1]),
    )
    assert [col(r, "message_id") for r in parsed.rows] == ["m-0"]
    assert [(e.index, e.message_id, e.field) for e in parsed.errors] == [
        (1, "m-1", "timestamp"),
        (2, "m-2", "properties"),
    ]
    assert str(parsed.errors[1]) == "message 2 (m-2): properties: must be a JSON object"
    assert parsed.errors[0].as_json() == {
        "index": 1,
        "messageId": "m-1",
        "field": "timestamp",
        "message": parsed.errors[0].message,
    }


def test_a_batch_keeps_valid_messages_and_names_each_invalid_one() -> None:
    parsed = batch(
        track(userId="a"),
        {"type": "track", "userId": "b"},
        track(userId="c"),
        {"type": "identify"},
        track(userId="e"),
    )
    assert [col(r, "user_id") for r in parsed.rows] == ["a", "c", "e"]
    assert [e.index for e in parsed.errors] == [1, 3]


# --- the single-message endpoints -------------------------------------------------------------


def test_a_single_message_endpoint_does_not_need_type_in_the_body() -> None:
    [row] = single({"userId": "u", "event": "Signed Up"}, "track").rows
    assert col(row, "type") == "track"
    assert col(row, "event") == "Signed Up"


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ("track", {"type": "identify", "userId": "u"}),
        ("identify", {"type": "track", "userId": "u", "event": "Signed Up"}),
        ("page", {"type": "screen", "userId": "u"}),
    ],
)
def test_a_single_message_endpoint_refuses_a_body_of_another_type(
    endpoint: str, message: dict
) -> None:
    error = only_error(single(message, endpoint))
    assert error.field == "type"
    assert error.index == 0


def test_a_single_message_over_32_kb_is_refused_as_a_body() -> None:
    message = track(properties={"blob": "x" * MAX_MESSAGE_BYTES})
    with pytest.raises(BodyError, match="32 KB"):
        single(message, "track")


def test_the_write_key_in_a_single_message_body_is_returned() -> None:
    parsed = single({"userId": "u", "writeKey": "wk_123"}, "identify")
    assert parsed.write_key == "wk_123"
    assert len(parsed.rows) == 1


def test_page_and_screen_keep_their_name() -> None:
    page, screen = batch(
        {"type": "page", "userId": "u", "name": "Pricing", "properties": {"url": "https://a.io"}},
        {"type": "screen", "userId": "u", "name": "Home"},
    ).rows
    assert (col(page, "type"), col(page, "name")) == ("page", "Pricing")
    assert (col(screen, "type"), col(screen, "name")) == ("screen", "Home")


def test_alias_keeps_the_previous_id() -> None:
    [row] = batch({"type": "alias", "userId": "new", "previousId": "old"}).rows
    assert (col(row, "user_id"), col(row, "previous_id")) == ("new", "old")


# --- sizes and counts -------------------------------------------------------------------------


def test_a_message_over_32_kb_inside_a_batch_is_refused_alone() -> None:
    big = track(userId="big", properties={"blob": "x" * (MAX_MESSAGE_BYTES + 1)})
    parsed = batch(track(userId="a"), big, track(userId="c"))
    assert [col(r, "user_id") for r in parsed.rows] == ["a", "c"]
    [error] = parsed.errors
    assert error.index == 1
    assert "32 KB" in error.message


def test_a_batch_of_exactly_2500_messages_is_accepted() -> None:
    parsed = batch(*[track(userId=f"u{i}") for i in range(MAX_BATCH_MESSAGES)])
    assert len(parsed.rows) == MAX_BATCH_MESSAGES


def test_more_than_2500_messages_is_a_body_error() -> None:
    with pytest.raises(BodyError, match="2500"):
        batch(*[{"type": "identify", "userId": "u"}] * (MAX_BATCH_MESSAGES + 1))


# --- unusable bodies --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"",
        b'{"batch": [}',
        b"[1, 2]",
        b'"batch"',
        b"null",
        b'{"nobatch": []}',
        b'{"batch": {}}',
        b'{"batch": [], "context": "text"}',
    ],
    ids=[
        "invalid",
        "empty",
        "truncated",
        "array",
        "string",
        "null",
        "no-batch",
        "batch-not-list",
        "context-not-object",
    ],
)
def test_an_unusable_batch_body_is_a_body_error(body: bytes) -> None:
    with pytest.raises(BodyError):
        parse_body(body, ORG, RECEIVED)


def test_deeply_nested_json_is_a_body_error_not_a_recursion_error() -> None:
    nested = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(BodyError):
        parse_body(nested, ORG, RECEIVED)  # not an object: refused before any recursion
    with pytest.raises(BodyError, match="nested"):
        parse_body(b'{"batch": ' + nested + b"}", ORG, RECEIVED)
    inside = b'{"batch": [{"type": "track", "userId": "u", "event": "e", "properties": {"a": '
    with pytest.raises(BodyError, match="nested"):
        parse_body(inside + b"[" * 10_000 + b"]" * 10_000 + b"}}]}", ORG, RECEIVED)


def test_deep_nesting_in_one_message_never_raises_recursion_error() -> None:
    deep = b'{"type": "track", "userId": "u", "event": "e", "properties": {"a": '
    deep += b"[" * 10_000 + b"]" * 10_000 + b"}}"
    assert len(deep) < MAX_MESSAGE_BYTES
    parsed = parse_body(deep, ORG, RECEIVED, message_type="track")
    assert parsed.rows == [] and len(parsed.errors) == 1
    row, error = parse_message(deep, ORG, RECEIVED)
    assert row is None and error is not None
    assert write_key_of(b'{"writeKey": ' + b"[" * 100_000 + b"]" * 100_000 + b"}") is None


# --- the envelope -----------------------------------------------------------------------------


def test_batch_context_is_merged_into_each_message_and_the_messages_own_keys_win() -> None:
    own, bare = batch(
        track(context={"ip": "2.2.2.2", "locale": "fr-FR"}),
        track(),
        context={"ip": "1.1.1.1", "library": {"name": "analytics-go"}},
    ).rows
    assert json.loads(col(own, "context")) == {
        "ip": "2.2.2.2",
        "locale": "fr-FR",
        "library": {"name": "analytics-go"},
    }
    assert json.loads(col(bare, "context")) == {
        "ip": "1.1.1.1",
        "library": {"name": "analytics-go"},
    }


def test_without_batch_context_the_messages_context_is_kept_as_sent() -> None:
    [row] = batch(track(context={"ip": "2.2.2.2"})).rows
    assert json.loads(col(row, "context")) == {"ip": "2.2.2.2"}


def test_the_write_key_in_the_body_is_returned() -> None:
    body = encode({"writeKey": "wk_live", "batch": [track()]})
    assert write_key_of(body) == "wk_live"
    assert parse_body(body, ORG, RECEIVED).write_key == "wk_live"
    assert batch(track()).write_key is None


@pytest.mark.parametrize("body", [b"not json", b"[1]", b'{"writeKey": 5}', b'{"batch": []}', b""])
def test_write_key_of_is_none_when_there_is_no_usable_key(body: bytes) -> None:
    assert write_key_of(body) is None


def test_via_is_recorded_on_each_row() -> None:
    body = encode({"batch": [track()]})
    [row] = parse_body(body, ORG, RECEIVED, via="replay").rows
    assert col(row, "via") == "replay"


# --- parse_message (JSON-lines imports) -------------------------------------------------------


def test_parse_message_returns_a_row_for_any_type() -> None:
    row, error = parse_message('{"type": "group", "userId": "u", "groupId": "g"}', ORG, RECEIVED)
    assert error is None
    assert (col(row, "type"), col(row, "group_id"), col(row, "via")) == ("group", "g", "import")


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"type": "track", "event": "e"}', "userId"),
        ('{"type": "nope", "userId": "u"}', "type"),
        ('{"type": "track", "event": "e", "userId": "u", "timestamp": "soon"}', "timestamp"),
    ],
)
def test_parse_message_returns_what_is_wrong(raw: str, field: str) -> None:
    row, error = parse_message(raw, ORG, RECEIVED)
    assert row is None
    assert error is not None and error.field == field


def test_parse_message_refuses_a_message_over_32_kb() -> None:
    raw = json.dumps(track(properties={"blob": "x" * MAX_MESSAGE_BYTES}))
    row, error = parse_message(raw, ORG, RECEIVED)
    assert row is None
    assert error is not None and "32 KB" in error.message


def test_parse_message_refuses_invalid_json_without_raising() -> None:
    row, error = parse_message(b"{oops", ORG, RECEIVED)
    assert row is None
    assert error is not None and error.field == "message"


# --- what the warehouses cannot store -----------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"userId": "u\u0000-1"}, "userId"),
        ({"anonymousId": "a\n1", "userId": None}, "anonymousId"),
        ({"messageId": "m\t1"}, "messageId"),
        ({"event": "Signed\u0001Up"}, "event"),
    ],
    ids=["nul-user", "newline-anonymous", "tab-message-id", "control-event"],
)
def test_ids_and_names_with_control_characters_are_refused(fields: dict, field: str) -> None:
    error = only_error(batch(track(**fields)))
    assert error.field == field and "control characters" in error.message


def test_a_nul_anywhere_in_the_message_is_refused_and_its_neighbours_kept() -> None:
    parsed = batch(
        track(messageId="ok-1"),
        track(messageId="nul", properties={"plan": "pro\u0000"}),
        track(messageId="ok-2", properties={"path": "C:\\u0000"}),  # a backslash, then "u0000"
    )
    assert [col(row, "message_id") for row in parsed.rows] == ["ok-1", "ok-2"]
    [error] = parsed.errors
    assert (error.message_id, error.field) == ("nul", "message") and "NUL" in error.message


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"timestamp": "0001-01-01T00:00:00Z", "sentAt": "9999-12-31T00:00:00Z"}, "timestamp"),
        ({"timestamp": "9999-12-31T00:00:00Z"}, "timestamp"),
        ({"sentAt": "0001-01-01T00:00:00Z"}, "sentAt"),
        ({"originalTimestamp": "1900-01-01T00:00:00Z"}, "originalTimestamp"),
        # Both in range, but the clock-skew correction lands centuries before 1970.
        ({"timestamp": "1971-01-01T00:00:00Z", "sentAt": "2199-01-01T00:00:00Z"}, "timestamp"),
    ],
    ids=["year-1-vs-9999", "year-9999", "sent-year-1", "original-1900", "corrected-too-far"],
)
def test_times_out_of_range_are_a_message_error_not_a_crash(fields: dict, field: str) -> None:
    parsed = batch(track(messageId="ok"), track(messageId="bad", **fields))
    assert [col(row, "message_id") for row in parsed.rows] == ["ok"]
    [error] = parsed.errors
    assert error.field.startswith(field) and "out of range" in error.message
