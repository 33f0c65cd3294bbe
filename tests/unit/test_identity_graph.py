"""Identity resolution end to end on small hand-made cases, on DuckDB+SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest

from devsignal_pipelines.lib.identity import resolve as identity_resolve
from devsignal_pipelines.lib.identity.explain import explain_contact, explain_identity
from devsignal_pipelines.lib.identity.resolve import prepare_transaction, resolve_identities
from devsignal_pipelines.lib.identity.rules import new_contact_id
from devsignal_pipelines.lib.stores import control as c
from devsignal_pipelines.lib.stores.control import ControlDB
from devsignal_pipelines.lib.stores.tables import RAW_SO_USERS, RAW_TWITTER_USERS
from devsignal_pipelines.lib.stores.warehouse import Warehouse

ORG = "acme"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
NOW = pd.Timestamp("2026-02-01", tz="UTC")
COMPANIES = [("c1", "brightloop.io"), ("c2", "kettle.dev"), ("c3", "acme.io"), ("c4", "eu.acme.io")]
CONTACTS = [
    ("p1", "c1", "Ada Lovelace"),
    ("p2", "c1", "Grace Hopper"),
    ("p3", "c2", "Sam Lee"),
    ("p4", "c2", "Sam  Lee"),
    ("p5", None, "José Núñez"),
    ("p6", "c4", "Lin Wu"),
    ("p7", "c3", "Lin Wu"),
]


class Env:
    """A control DB holding the CRM above and a warehouse to put authors in."""

    def __init__(self, stores: dict[str, str]):
        self.warehouse = Warehouse(stores["warehouse"])
        self.warehouse.ensure_tables()
        self.control = ControlDB(stores["control"])
        self.control.create_all()
        self.control.add_organization(ORG)
        stamp = {"created_at": T0, "updated_at": T0}
        with self.control.begin() as conn:
            self.control.insert_missing(
                conn,
                c.companies,
                [
                    {"id": i, "organization_id": ORG, "name": i, "domain": d, **stamp}
                    for i, d in COMPANIES
                ],
            )
            self.control.insert_missing(
                conn,
                c.contacts,
                [
                    {
                        "id": i,
                        "organization_id": ORG,
                        "company_id": co,
                        "full_name": n,
                        "source": "crm",
                        **stamp,
                    }
                    for i, co, n in CONTACTS
                ],
            )

    def identity(self, platform: str, user_id: str, contact_id: str, username: str) -> None:
        with self.control.begin() as conn:
            self.control.insert_missing(
                conn,
                c.contact_identities,
                [
                    {
                        "organization_id": ORG, "platform": platform, "platform_user_id": user_id,
                        "contact_id": contact_id, "username": username, "method": "crm",
                        "confidence": 1.0, "evidence": {}, "created_at": T0,
                    }
                ],
            )  # fmt: skip

    def x(self, *authors: tuple) -> None:
        """(user_id, name, urls[, description])"""
        rows = [
            {
                "user_id": a[0], "username": f"user{a[0]}", "name": a[1], "bio_urls": list(a[2]),
                "description": a[3] if len(a) > 3 else None,
            }
            for a in authors
        ]  # fmt: skip
        self._merge(RAW_TWITTER_USERS, rows)

    def so(self, *users: tuple[int, str, str | None]) -> None:
        rows = [
            {"user_id": u, "account_id": u + 1, "display_name": n, "website_url": w}
            for u, n, w in users
        ]
        self._merge(RAW_SO_USERS, rows)

    def _merge(self, spec, rows: list[dict[str, Any]]) -> None:
        frame = pd.DataFrame(rows).assign(organization_id=ORG, ingested_at=NOW, updated_at=NOW)
        for column in spec.column_names:
            if column not in frame:
                frame[column] = pd.Series([None] * len(frame), dtype=object)
        with self.warehouse.transaction() as tx:
            tx.merge(spec, frame)

    def resolve(self, **kwargs: Any) -> identity_resolve.IdentityRunReport:
        return resolve_identities(self.warehouse, self.control, ORG, **kwargs)

    def links(self) -> pd.DataFrame:
        frame = self.warehouse.read_df(
            "SELECT * FROM core.identity_links WHERE organization_id = :o ORDER BY platform, platform_user_id",
            {"o": ORG},
        )
        frame["evidence"] = [json.loads(e) if isinstance(e, str) else e for e in frame["evidence"]]
        return frame.set_index(["platform", "platform_user_id"])

    def contact(self, contact_id: str) -> dict[str, Any]:
        frame = self.control.read_df(c.contacts.select().where(c.contacts.c.id == contact_id))
        return frame.iloc[0].to_dict()

    def count(self, table) -> int:
        return len(self.control.read_df(table.select()))


@pytest.fixture
def env(stores: dict[str, str]) -> Env:
    return Env(stores)


def test_a_known_permanent_id_wins_and_the_handle_is_never_used(env: Env) -> None:
    env.identity("twitter", "1", "p2", "grace")
    env.identity("stackoverflow", "5001", "p1", "Ada L.")
    env.x(
        (
            "1",
            "Ada Lovelace",
            ["https://brightloop.io"],
        ),  # id says Grace, whatever the profile says
        ("2", "Someone", []),  # the CRM's handle 'grace' now belongs to another account
    )
    env.so((5001, "user5001", None))
    env.resolve()
    links = env.links()
    assert links.loc[("twitter", "1"), ["contact_id", "company_id", "method"]].tolist() == [
        "p2", "c1", "platform_id",
    ]  # fmt: skip
    assert links.loc[("twitter", "1"), "evidence"] == {
        "crm_username": "grace",
        "platform_user_id": "1",
    }
    assert links.loc[("stackoverflow", "5001"), "contact_id"] == "p1"
    assert links.loc[("twitter", "2"), "contact_id"] == new_contact_id(ORG, "twitter", "2")


def test_company_domain_plus_unique_name_names_the_contact(env: Env) -> None:
    env.x(("1", "ADA lovelace", ["https://blog.brightloop.io/ada"]))
    env.so((5001, "Grace  Hopper", "http://www.brightloop.io/team"))
    env.resolve()
    links = env.links()
    x = links.loc[("twitter", "1")]
    assert (x["contact_id"], x["company_id"], x["method"], x["confidence"]) == (
        "p1", "c1", "bio_domain_name", 0.95,
    )  # fmt: skip
    assert x["evidence"]["company_domain"] == "brightloop.io"
    assert x["evidence"]["profile_host"] == "blog.brightloop.io"
    assert links.loc[("stackoverflow", "5001"), "contact_id"] == "p2"


def test_company_domain_without_a_unique_name_creates_a_contact_at_the_company(env: Env) -> None:
    env.x(("1", "Sam Lee", ["https://kettle.dev"]), ("2", "New Person", ["kettle.dev/jobs"]))
    report = env.resolve()
    links = env.links()
    for uid in ("1", "2"):
        link = links.loc[("twitter", uid)]
        assert (link["method"], link["company_id"]) == ("bio_domain", "c2")
        assert link["contact_id"] == new_contact_id(ORG, "twitter", uid)
        created = env.contact(link["contact_id"])
        assert (created["company_id"], created["source"]) == ("c2", "twitter")
    assert env.contact(links.loc[("twitter", "2"), "contact_id"])["full_name"] == "New Person"
    assert report.contacts_created == 2


def test_an_email_in_the_bio_is_company_evidence(env: Env) -> None:
    env.x(("1", "Kim Park", [], "Engineer @somewhere. Mail: kim@Kettle.dev"))
    env.resolve()
    link = env.links().loc[("twitter", "1")]
    assert (link["method"], link["company_id"]) == ("bio_domain", "c2")
    assert link["evidence"]["via"] == "bio_email"


def test_free_hosting_free_mail_and_unknown_domains_are_no_company(env: Env) -> None:
    env.x(
        ("1", "Ada Lovelace", ["https://brightloop.github.io", "https://medium.com/@brightloop"]),
        ("2", "Ada Lovelace", [], "ada@gmail.com"),
        ("3", "Grace Hopper", ["https://gracehopper.dev"]),
    )
    env.resolve()
    links = env.links()
    assert set(links["method"]) == {"new_contact"}
    assert links["company_id"].isna().all()


def test_a_profile_pointing_at_two_companies_links_nothing(env: Env) -> None:
    env.x(("1", "Ada Lovelace", ["https://brightloop.io", "https://kettle.dev"]))
    env.resolve()
    link = env.links().loc[("twitter", "1")]
    assert (link["method"], link["company_id"]) == ("new_contact", None)
    assert link["evidence"]["companies"] == 2


def test_the_most_specific_company_domain_wins(env: Env) -> None:
    env.x(("1", "Lin Wu", ["https://blog.eu.acme.io"]), ("2", "Lin Wu", ["https://acme.io"]))
    env.resolve()
    links = env.links()
    assert links.loc[("twitter", "1"), ["contact_id", "method"]].tolist() == [
        "p6",
        "bio_domain_name",
    ]
    assert links.loc[("twitter", "2"), ["contact_id", "method"]].tolist() == [
        "p7",
        "bio_domain_name",
    ]


def test_a_unique_name_alone_links_on_stackoverflow_but_not_on_x(env: Env) -> None:
    env.x(("1", "Grace Hopper", []))
    env.so((5001, "JOSE NUNEZ", None), (5002, "Sam Lee", None))
    env.resolve()
    links = env.links()
    assert links.loc[("twitter", "1"), "method"] == "new_contact"
    so = links.loc[("stackoverflow", "5001")]
    assert (so["contact_id"], so["method"], so["confidence"]) == ("p5", "name", 0.75)
    assert so["evidence"]["contact_source"] == "crm"
    assert links.loc[("stackoverflow", "5002"), "method"] == "new_contact"  # two Sam Lees


def test_a_company_domain_elsewhere_blocks_a_name_match(env: Env) -> None:
    env.so((5001, "José Núñez", "https://kettle.dev"))
    env.resolve()
    link = env.links().loc[("stackoverflow", "5001")]
    assert (link["method"], link["company_id"]) == ("bio_domain", "c2")


def test_two_authors_claiming_one_contact_link_neither(env: Env) -> None:
    env.so((5001, "Grace Hopper", None), (5002, "grace hopper", None))
    env.x(("1", "Ada Lovelace", ["brightloop.io"]), ("2", "Ada Lovelace", ["www.brightloop.io"]))
    env.resolve()
    assert set(env.links()["method"]) == {"new_contact", "bio_domain"}


def test_a_contact_with_an_account_on_the_platform_is_not_claimed_again(env: Env) -> None:
    env.identity("stackoverflow", "5001", "p1", "Ada")
    env.so((5001, "Ada", None), (5002, "Ada Lovelace", "https://brightloop.io"))
    env.resolve()
    link = env.links().loc[("stackoverflow", "5002")]
    assert (link["method"], link["contact_id"]) == (
        "bio_domain",
        new_contact_id(ORG, "stackoverflow", "5002"),
    )


def test_one_person_on_both_platforms_ends_up_as_one_contact(env: Env) -> None:
    env.x(
        ("1", "Pat Both", ["https://patboth.dev"]),  # nobody the CRM knows
        ("2", "Kim Park", ["https://kettle.dev/team"]),  # works at Kettle, not a contact
        ("3", "Ada Lovelace", ["https://brightloop.io"]),  # a CRM contact
        ("4", "Max Solo", ["https://maxsolo.github.io"]),
    )
    env.so(
        (5001, "Pat Both", "https://www.patboth.dev/blog"),  # same person: same name, same site
        (5002, "KIM PARK", "kettle.dev"),  # same name at the same company
        (5003, "Ada Lovelace", None),  # the CRM's unique name
        (5004, "Max Solo", None),  # same name, nothing else in common: not merged
    )
    env.resolve()
    links = env.links()

    def contact(platform: str, uid: str) -> str:
        return links.loc[(platform, uid), "contact_id"]

    assert contact("stackoverflow", "5001") == contact("twitter", "1")
    assert links.loc[("stackoverflow", "5001"), "evidence"]["shared_url"] == "patboth.dev"
    assert contact("stackoverflow", "5002") == contact("twitter", "2")
    assert links.loc[("stackoverflow", "5002"), "method"] == "bio_domain_name"
    assert contact("stackoverflow", "5003") == contact("twitter", "3") == "p1"
    assert contact("stackoverflow", "5004") != contact("twitter", "4")
    assert links.loc[("stackoverflow", "5004"), "method"] == "new_contact"


def test_new_contacts_are_deterministic_and_a_rerun_changes_nothing(env: Env) -> None:
    env.x(("1", "Nobody", []), ("2", "Sam Lee", ["kettle.dev"]))
    env.so((5001, "user5001", None))
    first = env.resolve()
    links = env.links()
    assert links.loc[("stackoverflow", "5001"), "contact_id"] == new_contact_id(
        ORG, "stackoverflow", "5001"
    )
    counts = (env.count(c.contacts), env.count(c.contact_identities))
    again = env.resolve()
    assert (first.contacts_created, first.identities_created) == (3, 3)
    assert (again.contacts_created, again.identities_created) == (0, 0)
    assert (env.count(c.contacts), env.count(c.contact_identities)) == counts
    pd.testing.assert_frame_equal(env.links(), links)


def test_links_cover_only_authors_seen(env: Env) -> None:
    env.identity("twitter", "99", "p1", "ada")  # recorded in the CRM, never posted
    env.x(("1", "Nobody", []))
    env.resolve()
    assert list(env.links().index) == [("twitter", "1")]


def test_an_organization_without_authors_gets_no_links(env: Env) -> None:
    report = env.resolve()
    assert env.links().empty and report.contacts_created == 0 and report.authors == {}


def test_a_crash_after_the_control_write_converges(env: Env, monkeypatch) -> None:
    env.x(("1", "Nobody", []), ("2", "Ada Lovelace", ["brightloop.io"]))

    def crash(*args: Any) -> None:
        raise RuntimeError("power cut")

    with monkeypatch.context() as patch:
        patch.setattr(identity_resolve, "_replace_links", crash)
        with pytest.raises(RuntimeError):
            env.resolve()
    assert env.links().empty  # the warehouse transaction rolled back
    assert env.count(c.contact_identities) == 2  # the control DB kept what it wrote
    report = env.resolve()
    assert (report.contacts_created, report.identities_created) == (0, 0)
    links = env.links()
    assert links.loc[("twitter", "2"), ["contact_id", "method"]].tolist() == [
        "p1",
        "bio_domain_name",
    ]
    assert links.loc[("twitter", "1"), "contact_id"] == new_contact_id(ORG, "twitter", "1")


def test_an_identity_recorded_by_someone_else_meanwhile_wins(env: Env, monkeypatch) -> None:
    env.x(("1", "Nobody", []))
    write = identity_resolve._write_control

    def concurrent_writer_first(*args: Any) -> tuple[int, int, int]:
        env.identity("twitter", "1", "p2", "someone-else")
        return write(*args)

    monkeypatch.setattr(identity_resolve, "_write_control", concurrent_writer_first)
    report = env.resolve()
    assert report.identities_created == 0
    link = env.links().loc[("twitter", "1")]
    assert (link["contact_id"], link["method"]) == ("p2", "platform_id")


def test_explain_tells_why_each_identity_is_linked(env: Env) -> None:
    env.x(("1", "Ada Lovelace", ["https://blog.brightloop.io/ada"]))
    env.so((5001, "ada lovelace", None))
    env.identity("github", "77", "p1", "ada_old")  # recorded, never seen by a sync
    env.resolve()
    text = explain_contact(env.warehouse, env.control, ORG, "p1")
    assert "'Ada Lovelace' at c1 (brightloop.io), from the CRM" in text
    assert "twitter 1 @user1 'Ada Lovelace': bio_domain_name, confidence 0.95" in text
    assert "stackoverflow 5001 'ada lovelace': name, confidence 0.75" in text
    assert "github 77 (as 'ada_old'): recorded (crm), no activity synced" in text
    one = explain_identity(env.warehouse, env.control, ORG, "stackoverflow", "5001")
    assert "matches exactly one contact of the organization" in one
    with pytest.raises(LookupError, match="no identity link for twitter user 404"):
        explain_identity(env.warehouse, env.control, ORG, "twitter", "404")
    with pytest.raises(LookupError, match="no contact 'nope'"):
        explain_contact(env.warehouse, env.control, ORG, "nope")


@pytest.mark.parametrize("stores", ["duckdb"], indirect=True)
def test_large_appends_after_an_empty_stage_are_kept(stores: dict[str, str]) -> None:
    """DuckDB 1.5.6 drops a row-group-sized append to a table created from an empty scan in the
    same transaction; prepare_transaction avoids it (organizations with no CRM identities)."""
    warehouse = Warehouse(stores["warehouse"])
    with warehouse.transaction() as tx:
        prepare_transaction(tx)
        tx.stage_frame("t", pd.DataFrame({"x": pd.Series(dtype=object)}), {"x": "text"})
        tx.execute("INSERT INTO t SELECT CAST(i AS VARCHAR) FROM range(130000) r(i)")
        assert tx.fetch_df("SELECT count(*) AS n FROM t").at[0, "n"] == 130000
