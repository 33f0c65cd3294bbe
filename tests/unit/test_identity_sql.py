"""The identity SQL expressions give the same answers on DuckDB, on PostgreSQL and in Python."""

from __future__ import annotations

import json

import pytest

from devsignal_pipelines.lib.identity.rules import (
    is_full_name,
    new_contact_id,
    normalize_name,
    url_domain,
)
from devsignal_pipelines.lib.identity.sql import (
    contact_id_sql,
    email_sql,
    is_full_name_sql,
    json_object_sql,
    name_key_sql,
    quote,
    url_host_sql,
)
from devsignal_pipelines.lib.stores.warehouse import Warehouse

NAMES = [
    "  José  O'Neil ", "ZOË Ångström-Lévy", "Ada L.", "Ada 🚀", "Straße Müller", "Łukasz Żółć",
    "Дмитрий Иванов", "Jean\tLuc  PICARD", "İsmail Ünal", "Ø. Ærø", "j r smith", "li na", "",
    "Nguyễn Văn Đức", "Œdipe Ĳssel", "ada lovelace", "ADA LOVELACE", "Ada\u00a0Lovelace",
    "François-Xavier Dupré", "Søren Kierkegaard", "Þóra Ðögg", "São João", None,
]  # fmt: skip
URLS = [
    "https://www.BrightLoop.io/team?x=1", "blog.kettle.dev", "http://user:pw@WWW2.acme.io:8080/a",
    "https://medium.com/@ada", "mailto:ada@acme.io", "acme.io.", "https://ada.github.io",
    "HTTPS://Sub.Acme.CO.uk/#x", "https://localhost",
]  # fmt: skip


def _select(warehouse: Warehouse, expression: str, values: list) -> list:
    """Evaluate `expression` (over column `v`) for each value, in one query."""
    rows = " UNION ALL ".join(
        f"SELECT {i} AS i, CAST(:v{i} AS TEXT) AS v" for i in range(len(values))
    )
    frame = warehouse.read_df(
        f"SELECT i, {expression} AS out FROM ({rows}) t ORDER BY i",
        {f"v{i}": value for i, value in enumerate(values)},
    )
    return [None if out is None or out != out else out for out in frame["out"]]


@pytest.fixture
def warehouse(stores: dict[str, str]) -> Warehouse:
    return Warehouse(stores["warehouse"])


def test_name_keys_match_python_on_every_branch(warehouse: Warehouse) -> None:
    keys = _select(warehouse, name_key_sql("v", warehouse.dialect), NAMES)
    assert keys == [normalize_name(name) for name in NAMES]
    full = _select(warehouse, is_full_name_sql(name_key_sql("v", warehouse.dialect)), NAMES)
    assert [bool(f) for f in full] == [is_full_name(normalize_name(name)) for name in NAMES]


def test_url_hosts_match_python(warehouse: Warehouse) -> None:
    hosts = _select(warehouse, url_host_sql("v"), URLS)
    assert [h if h and "." in h else None for h in hosts] == [url_domain(u) for u in URLS]


def test_emails_are_found_in_bios(warehouse: Warehouse) -> None:
    bios = ["mail me: ada.l+x@Acme.io.", "Eng @vercel | pat@kettle.dev", "ping @acme.io", "x@y\nz"]
    expression = email_sql("v").replace(" AS local_part, ", " || '|' || ").replace(" AS domain", "")
    assert _select(warehouse, expression, bios) == [
        "ada.l+x|acme.io",
        "pat|kettle.dev",
        "|acme.io",  # a mention, not an address: the empty local part rejects it
        "x|y",  # no dot: rejected by the caller
    ]


def test_contact_ids_computed_in_sql_equal_new_contact_id(warehouse: Warehouse) -> None:
    ids = _select(warehouse, contact_id_sql("'acme'", "twitter", "v"), ["1", "20425559"])
    assert ids == [
        new_contact_id("acme", "twitter", "1"),
        new_contact_id("acme", "twitter", "20425559"),
    ]


def test_json_objects_are_valid_sorted_and_escaped(warehouse: Warehouse) -> None:
    texts = _select(warehouse, json_object_sql({"b": "v", "a": "v"}), ['x"y é: z', None])
    assert [json.loads(t) for t in texts] == [
        {"a": 'x"y é: z', "b": 'x"y é: z'},
        {"a": None, "b": None},
    ]
    assert texts[1] == '{"a":null,"b":null}'


def test_literals_never_carry_a_bind_parameter(warehouse: Warehouse) -> None:
    literal = quote('{"companies":0,"x":"a:b"}')
    assert ":0" not in literal and ":b" not in literal
    assert _select(warehouse, literal, [None]) == ['{"companies":0,"x":"a:b"}']
