"""first_party_sensor's decisions: which organizations get a load, under which run key."""

from __future__ import annotations

from devsignal_pipelines.defs.ingest.events.sensors import RETRY_AFTER_S, first_party_requests

NOW = 1_800_000_000.0


def test_waiting_messages_ask_for_one_load_per_bucket_and_again_after_a_failed_one() -> None:
    first, cursor = first_party_requests({"acme": 41}, {}, {}, NOW)
    again, _ = first_party_requests({"acme": 41}, {}, cursor, NOW + 10)
    assert first == again  # the same run key: Dagster does not start a second run
    later, _ = first_party_requests({"acme": 41}, {}, cursor, NOW + RETRY_AFTER_S)
    [(org, key)] = later
    assert org == "acme" and key != first[0][1]  # still waiting (the load failed): retried


def test_a_crm_change_asks_for_one_load_and_the_cursor_remembers_it() -> None:
    requests, cursor = first_party_requests({}, {"nimbus": "2026-12-07T10:00:00Z"}, {}, NOW)
    assert [org for org, _ in requests] == ["nimbus"]
    assert cursor == {"nimbus": "2026-12-07T10:00:00Z"}
    assert first_party_requests({}, {"nimbus": "2026-12-07T10:00:00Z"}, cursor, NOW) == ([], cursor)


def test_new_messages_change_the_run_key_within_a_bucket() -> None:
    [(_, before)], _ = first_party_requests({"acme": 41}, {}, {}, NOW)
    [(_, after)], _ = first_party_requests({"acme": 42}, {}, {}, NOW)
    assert before != after
