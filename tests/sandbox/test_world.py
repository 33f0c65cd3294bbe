"""The seeded world: deterministic, the promised sizes and mix, and truthful ground truth."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

import pytest

from devsignal_pipelines.sandbox.world import World, generate_world

ANCHOR = datetime(2025, 3, 1, tzinfo=UTC)


def world_json(world: World) -> str:
    return json.dumps(asdict(world), default=str, sort_keys=True, ensure_ascii=False)


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(seed=7, anchor=ANCHOR)


def test_same_arguments_give_a_byte_identical_world(world: World) -> None:
    assert world_json(generate_world(seed=7, anchor=ANCHOR)) == world_json(world)


def test_another_seed_gives_another_world(world: World) -> None:
    other = generate_world(seed=8, anchor=ANCHOR)
    assert world_json(other) != world_json(world)
    assert {c.id for c in other.companies}.isdisjoint({c.id for c in world.companies})


def test_tweet_count_does_not_change_the_crm_or_the_accounts(world: World) -> None:
    bigger = generate_world(seed=7, anchor=ANCHOR, tweets=3000)
    assert len(bigger.tweets) == 3300
    assert bigger.contacts == world.contacts
    assert bigger.identities == world.identities
    assert bigger.twitter_users == world.twitter_users


def test_the_anchor_only_moves_time(world: World) -> None:
    """The demo anchors on "today"; another day must not bring other people or companies."""
    later = generate_world(seed=7, anchor=ANCHOR + timedelta(days=30))
    assert (later.companies, later.contacts, later.identities) == (
        world.companies,
        world.contacts,
        world.identities,
    )
    assert later.twitter_users == world.twitter_users
    assert [t["text"] for t in later.tweets] == [t["text"] for t in world.tweets]
    assert later.tweets[0]["created_at"] > world.tweets[0]["created_at"]


def test_sizes_at_scale_one(world: World) -> None:
    assert [o.id for o in world.organizations] == ["acme", "nimbus", "quill"]
    per_org = Counter(c.organization_id for c in world.companies)
    assert set(per_org.values()) == {20}
    assert len({c.domain for c in world.companies}) == len(world.companies)
    company_contacts = Counter(c.company_id for c in world.contacts if c.company_id)
    assert set(company_contacts.values()) <= {2, 3, 4, 5}
    assert any(c.company_id is None for c in world.contacts)
    signals = Counter(s.organization_id for s in world.product_signals)
    assert all(150 <= n <= 400 for n in signals.values())
    assert 1500 <= len(world.tweets) <= 1700
    after_anchor = [t for t in world.tweets if t["created_at"] > "2025-03-01T00:00:00.000Z"]
    assert len(after_anchor) == 150


def test_contacts_have_emails_at_their_company_domain(world: World) -> None:
    domains = {c.id: c.domain for c in world.companies}
    for contact in world.contacts:
        assert contact.email is not None
        if contact.company_id:
            assert contact.email.endswith("@" + domains[contact.company_id])
        else:
            assert contact.email.split("@")[1] in {
                "gmail.com",
                "proton.me",
                "outlook.com",
                "hey.com",
            }


def test_product_signals_follow_the_funnel_in_time(world: World) -> None:
    order = ["github_star", "docs_view", "signup", "api_call", "feature_usage"]
    by_contact: dict[str, list] = {}
    for signal in world.product_signals:
        by_contact.setdefault(signal.contact_id, []).append(signal)
    for signals in by_contact.values():
        stages = [order.index(s.signal_type) for s in signals]
        assert stages == sorted(stages)
        times = [s.occurred_at for s in signals]
        assert times == sorted(times)
    counts = Counter(s.signal_type for s in world.product_signals)
    assert counts["github_star"] > counts["signup"] > counts["feature_usage"]


def test_tweets_are_newest_first_with_snowflake_ids(world: World) -> None:
    ids = [int(t["id"]) for t in world.tweets]
    assert ids == sorted(ids, reverse=True)
    assert len(set(ids)) == len(ids)
    created = [t["created_at"] for t in world.tweets]
    assert created == sorted(created, reverse=True)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z", c) for c in created)
    oldest = datetime.strptime(created[-1], "%Y-%m-%dT%H:%M:%S.000Z").replace(tzinfo=UTC)
    assert oldest > ANCHOR - timedelta(days=7)
    for tweet in world.tweets:
        assert tweet["author_id"] in world.twitter_users
        assert tweet["edit_history_tweet_ids"] == [tweet["id"]]


def test_tweets_mix_retweets_replies_languages_and_noise(world: World) -> None:
    kinds = Counter(
        t["referenced_tweets"][0]["type"] for t in world.tweets if "referenced_tweets" in t
    )
    assert kinds["retweeted"] > 50
    assert kinds["replied_to"] > 50
    assert {t["lang"] for t in world.tweets} >= {"en", "es", "de"}
    for tweet in world.tweets:
        if tweet.get("referenced_tweets", [{}])[0].get("type") == "retweeted":
            assert tweet["text"].startswith("RT @")
    keyword = re.compile(
        r"acmedb|acme\W+db|nimbusdeploy|nimbus\W+deploy|quillpad|quill\W+editor", re.I
    )
    assert any(not keyword.search(t["text"]) for t in world.tweets)


def test_truth_covers_every_account_and_matches_the_crm(world: World) -> None:
    assert set(world.twitter_truth) == set(world.twitter_users)
    contacts = {c.id: c for c in world.contacts}
    for truth in world.twitter_truth.values():
        if truth.contact_id is not None:
            contact = contacts[truth.contact_id]
            assert contact.organization_id == truth.organization_id
            assert contact.company_id == truth.company_id
    for identity in world.identities:
        truth = world.twitter_truth[identity.platform_user_id]
        assert truth.contact_id == identity.contact_id
    assert sum(t.organization_id is None for t in world.twitter_truth.values()) > 200


def test_some_known_contacts_renamed_their_handle(world: World) -> None:
    renamed = [
        i
        for i in world.identities
        if world.twitter_users[i.platform_user_id]["username"] != i.username
    ]
    assert 1 <= len(renamed) <= 0.1 * len(world.identities)
    # One recycled handle: another account now owns a renamed contact's old username.
    current = {u["username"]: uid for uid, u in world.twitter_users.items()}
    recycled = [i for i in renamed if i.username in current]
    assert recycled
    assert all(world.twitter_truth[current[i.username]].contact_id is None for i in recycled)


def test_findable_contacts_link_their_company_domain_and_use_their_crm_name(world: World) -> None:
    companies = {c.id: c for c in world.companies}
    contacts = {c.id: c for c in world.contacts}
    known = {i.platform_user_id for i in world.identities}
    findable = [t for t in world.twitter_truth.values() if t.contact_id and t.user_id not in known]
    assert len(findable) > 20
    for truth in findable:
        user = world.twitter_users[truth.user_id]
        assert user["name"] == contacts[truth.contact_id].full_name
        expanded = user["entities"]["url"]["urls"][0]["expanded_url"]
        host = urlparse(expanded).hostname or ""
        assert host.endswith(companies[truth.company_id].domain)


def test_some_accounts_link_a_company_of_another_organization(world: World) -> None:
    outsiders = [t for t in world.twitter_truth.values() if t.company_id and t.contact_id is None]
    assert outsiders
    companies = {c.id: c for c in world.companies}
    for truth in outsiders:
        assert companies[truth.company_id].organization_id == truth.organization_id


def test_user_objects_look_like_x_users(world: World) -> None:
    for user in world.twitter_users.values():
        assert re.fullmatch(r"[A-Za-z0-9_]{1,15}", user["username"])
        assert user["id"].isdigit()
        if user["url"]:
            (link,) = user["entities"]["url"]["urls"]
            assert link["url"] == user["url"] and link["start"] == 0 and link["end"] == 23
        else:
            assert "entities" not in user
    handles = [u["username"].lower() for u in world.twitter_users.values()]
    assert len(set(handles)) == len(handles)
