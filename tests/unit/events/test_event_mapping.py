"""Which Segment events become which signals: name normalization, the organization's map, the
`--map`, `--docs-hosts` and `--docs-paths` options."""

from __future__ import annotations

import pytest

from devsignal_pipelines.lib.sources.events.mapping import (
    BUILTIN_EVENT_SIGNALS,
    DEFAULT_DOCS_PATHS,
    EventSettings,
    event_key,
    parse_event_map,
    parse_hosts,
    parse_paths,
)


@pytest.mark.parametrize(
    "name",
    ["  SIGNED-up ", "Signed Up", "signed_up", "signed.up", "Signed   Up!"],
)
def test_event_names_compare_case_space_and_punctuation_insensitively(name: str) -> None:
    assert event_key(name) == "signed up"


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("API Call", "api call"),
        ("Report Exported", "report exported"),
        ("v2 Project-Created", "v2 project created"),
        ("SignedUp", "signedup"),  # no word boundary to find: not "signed up"
        ("!!!", ""),
        ("", ""),
    ],
)
def test_event_key_lowercases_and_joins_words_with_one_space(name: str, key: str) -> None:
    assert event_key(name) == key


def test_the_built_in_names_map_to_the_usual_funnel_signals() -> None:
    types = EventSettings().signal_types()
    assert types["signed up"] == "signup"
    assert types[event_key("Logged In")] == "login"
    assert types[event_key("API Call Made")] == "api_call"
    assert types[event_key("Feature Used")] == "feature_usage"
    assert types[event_key("Repository Starred")] == "github_star"
    assert set(types) == {event_key(k) for k in BUILTIN_EVENT_SIGNALS}


def test_the_organizations_map_overrides_the_built_ins_and_adds_its_own_names() -> None:
    settings = EventSettings(
        event_map={"signed_up": "activation", "Heartbeat": "", "Report Exported": "feature_usage"}
    )
    types = settings.signal_types()
    assert types["signed up"] == "activation"  # spelled differently, still overrides "Signed Up"
    assert types["heartbeat"] == ""  # kept in raw events, no signal
    assert types["report exported"] == "feature_usage"
    assert types["logged in"] == "login"  # the other built-ins stay


def test_an_organization_can_silence_a_built_in_event() -> None:
    types = EventSettings(event_map={"API Call": ""}).signal_types()
    assert types["api call"] == ""
    assert types["api called"] == "api_call"


def test_signal_types_does_not_change_the_built_ins() -> None:
    EventSettings(event_map={"Signed Up": "activation"}).signal_types()
    assert EventSettings().signal_types()["signed up"] == "signup"
    assert BUILTIN_EVENT_SIGNALS["Signed Up"] == "signup"


def test_settings_round_trip_and_fill_defaults() -> None:
    assert EventSettings.from_settings(None) == EventSettings()
    assert EventSettings.from_settings({}).docs_paths == DEFAULT_DOCS_PATHS
    assert EventSettings.from_settings({"docs_paths": []}).docs_paths == DEFAULT_DOCS_PATHS
    settings = EventSettings(
        event_map={"Signed Up": "signup"}, docs_hosts=("docs.acme.dev",), docs_paths=("/guides",)
    )
    assert settings.as_settings() == {
        "event_map": {"Signed Up": "signup"},
        "docs_hosts": ["docs.acme.dev"],
        "docs_paths": ["/guides"],
    }
    assert EventSettings.from_settings(settings.as_settings()) == settings


# --- --map ------------------------------------------------------------------------------------


def test_parse_event_map_reads_names_and_signal_types() -> None:
    assert parse_event_map("Signed Up=signup, Heartbeat=") == {
        "Signed Up": "signup",
        "Heartbeat": "",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        (" , ,", {}),
        ("Project Created = feature_usage", {"Project Created": "feature_usage"}),
        ("a=x1,b=y_2,", {"a": "x1", "b": "y_2"}),
        ("Heartbeat=", {"Heartbeat": ""}),
    ],
)
def test_parse_event_map_trims_spaces_and_skips_empty_entries(
    text: str, expected: dict[str, str]
) -> None:
    assert parse_event_map(text) == expected


@pytest.mark.parametrize(
    "text", ["Signed Up", "=signup", "!!=signup", "Signed Up=signup, Heartbeat"]
)
def test_an_entry_that_is_not_name_equals_type_is_refused_with_an_example(text: str) -> None:
    with pytest.raises(ValueError, match="is not 'Event Name=signal_type'") as exc:
        parse_event_map(text)
    assert "Signed Up=signup" in str(exc.value)  # shows how to write it


@pytest.mark.parametrize(
    "signal_type",
    ["Signup", "sign-up", "1signup", "_signup", "sign up", "a" * 65, "b=c", "signup!"],
)
def test_a_signal_type_that_is_not_snake_case_is_refused(signal_type: str) -> None:
    with pytest.raises(ValueError, match="is not a signal type") as exc:
        parse_event_map(f"Signed Up={signal_type}")
    assert repr(signal_type) in str(exc.value)
    assert "feature_usage" in str(exc.value)


def test_a_signal_type_of_64_characters_is_accepted() -> None:
    assert parse_event_map("X=" + "a" * 64) == {"X": "a" * 64}


# --- --docs-hosts -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "hosts"),
    [
        ("docs.acme.dev", ["docs.acme.dev"]),
        ("https://Docs.Acme.dev/", ["docs.acme.dev"]),
        ("http://help.acme.io, docs.x.com ,", ["help.acme.io", "docs.x.com"]),
        ("", []),
        (" , ", []),
    ],
)
def test_parse_hosts_strips_schemes_slashes_and_case(text: str, hosts: list[str]) -> None:
    assert parse_hosts(text) == hosts


@pytest.mark.parametrize(
    "text",
    [
        "acme",
        "localhost",
        "docs.acme.dev/guide",
        "ftp://docs.acme.dev",
        "docs acme.dev",
        "*.acme.dev",
    ],
)
def test_parse_hosts_refuses_what_is_not_a_host_name(text: str) -> None:
    with pytest.raises(ValueError, match="--docs-hosts") as exc:
        parse_hosts(f"docs.ok.dev, {text}")
    message = str(exc.value)
    assert "not host names" in message
    assert "docs.ok.dev" not in message.split(" are ")[0]  # only the bad ones are named


# --- --docs-paths -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "paths"),
    [
        ("/docs", ["/docs"]),
        ("/docs, /guides/ ,", ["/docs", "/guides/"]),
        ("", []),
    ],
)
def test_parse_paths_keeps_paths_that_start_with_a_slash(text: str, paths: list[str]) -> None:
    assert parse_paths(text) == paths


def test_parse_paths_requires_a_leading_slash_and_names_the_bad_ones() -> None:
    with pytest.raises(ValueError, match="must start with '/'") as exc:
        parse_paths("/docs, docs, guides/")
    assert "docs, guides/" in str(exc.value)
