"""A deterministic, seeded world: three devtool organizations, their CRMs, X, Stack Overflow
and GitHub.

The sandbox server answers from a ``World`` and tests and evaluations compare pipeline output
with its ground truth (``twitter_truth``, ``so_truth``, ``github_truth``), so the same arguments
must always give the same world: one ``random.Random(seed)`` drives the CRM and X in a fixed
order (CRM first, then X accounts, then tweets, so changing ``tweets`` never changes the CRM or
the accounts). Stack Overflow comes next from its own ``random.Random(f"{seed}:stackoverflow")``
and GitHub last from ``random.Random(f"{seed}:github")``, so neither changes anything generated
before it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

from devsignal_pipelines.sandbox.crm import (
    generate_companies,
    generate_contacts,
    generate_deals,
    generate_product_signals,
)
from devsignal_pipelines.sandbox.github.world import generate_github
from devsignal_pipelines.sandbox.records import (
    Company,
    Contact,
    Deal,
    GitHubUserTruth,
    Identity,
    Organization,
    ProductSignal,
    StackOverflowUserTruth,
    TwitterUserTruth,
)
from devsignal_pipelines.sandbox.stackexchange.world import generate_stackoverflow
from devsignal_pipelines.sandbox.vocabulary import ORGANIZATIONS
from devsignal_pipelines.sandbox.x.people import generate_people
from devsignal_pipelines.sandbox.x.tweets import generate_tweets

__all__ = [
    "Company",
    "Contact",
    "Deal",
    "GitHubUserTruth",
    "Identity",
    "Organization",
    "ProductSignal",
    "StackOverflowUserTruth",
    "TwitterUserTruth",
    "World",
    "generate_world",
]

_TWEETS_AT_SCALE_1 = 1500
_AFTER_ANCHOR_SHARE = 0.1


@dataclass
class World:
    seed: int
    scale: float
    anchor: datetime  # the world's "now" (tz-aware UTC); the server clock starts here
    organizations: list[Organization]
    companies: list[Company]
    contacts: list[Contact]
    identities: list[Identity]
    deals: list[Deal]
    product_signals: list[ProductSignal]
    twitter_users: dict[str, dict]  # user id -> X API v2 user object with every user field
    tweets: list[dict]  # X API v2 tweet objects with every tweet field, newest (highest id) first
    twitter_truth: dict[str, TwitterUserTruth]  # user id -> who the account really is
    # Stack Overflow (see so_world): objects hold every event up to anchor + 1 day; what the API
    # shows at a given clock is so_index.StackOverflowIndex's business.
    so_users: dict[int, dict] = field(default_factory=dict)  # user_id -> full `user` object
    so_truth: dict[int, StackOverflowUserTruth] = field(default_factory=dict)
    so_identities: list[Identity] = field(default_factory=list)  # accounts CRMs already know
    so_questions: list[dict] = field(default_factory=list)  # newest (highest id) first
    so_answers: list[dict] = field(default_factory=list)  # newest (highest id) first
    so_edits: dict[int, tuple[int, ...]] = field(default_factory=dict)  # post id -> edit times
    # GitHub (see github/world.py, github/people.py): like Stack Overflow, objects hold every
    # event up to anchor + 1 day; github/index.py derives what the API shows at a given clock.
    # Repositories are "owner/name"; activity is keyed by the current full name.
    github_repos: dict[str, list[str]] = field(default_factory=dict)  # org id -> tracked names
    github_renamed: dict[str, str] = field(default_factory=dict)  # old full name -> current
    github_missing: list[str] = field(default_factory=list)  # tracked but private: 404
    github_repositories: dict[str, dict] = field(default_factory=dict)  # GET /repos objects
    github_users: dict[int, dict] = field(default_factory=dict)  # id -> GET /users/{login}
    github_truth: dict[int, GitHubUserTruth] = field(default_factory=dict)
    github_identities: list[Identity] = field(default_factory=list)  # accounts CRMs know
    github_members: dict[str, list[str]] = field(default_factory=dict)  # org id -> staff logins
    github_stargazers: dict[str, list[dict]] = field(default_factory=dict)  # starred_at, user_id
    github_forks: dict[str, list[dict]] = field(default_factory=dict)  # oldest first
    github_issues: dict[str, list[dict]] = field(default_factory=dict)  # and pulls, by number
    github_issue_comments: dict[str, list[dict]] = field(default_factory=dict)  # by id
    github_review_comments: dict[str, list[dict]] = field(default_factory=dict)  # by id
    github_edits: dict[str, tuple[str, ...]] = field(default_factory=dict)  # node_id -> times


def generate_world(
    seed: int = 7,
    scale: float = 1.0,
    anchor: datetime | None = None,
    tweets: int | None = None,
    so_questions: int | None = None,
    github_scale: float | None = None,
) -> World:
    """Build the world for ``seed``.

    ``scale`` multiplies the CRM and the number of X accounts (not the 3 organizations).
    ``tweets`` is the number of tweets in the 7 days up to ``anchor`` (default 1,500 x scale);
    another 10% of that is created in the day after ``anchor``, hidden until the server clock
    reaches them. ``anchor`` defaults to today 00:00 UTC; a naive anchor is taken as UTC.
    ``so_questions`` is the number of Stack Overflow questions per organization in the 30 days up
    to ``anchor`` (default 300 x scale; 0 for a benchmark that only needs a large CRM).
    ``github_scale`` multiplies GitHub activity per repository (stars, forks, issues, comments;
    default ``scale``; 0 keeps the accounts and repositories without activity).
    """
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    anchor = _utc(anchor) if anchor is not None else _today_utc()
    before = round(_TWEETS_AT_SCALE_1 * scale) if tweets is None else tweets
    if before < 0:
        raise ValueError(f"tweets must be >= 0, got {tweets}")
    rng = random.Random(seed)
    organizations = list(ORGANIZATIONS)
    companies = generate_companies(rng, seed, organizations, per_org=max(3, round(20 * scale)))
    contacts = generate_contacts(
        rng, seed, organizations, companies, loose_per_org=max(1, round(3 * scale))
    )
    deals = generate_deals(
        rng, seed, organizations, companies, per_org=max(2, round(6 * scale)), anchor=anchor
    )
    signals = generate_product_signals(rng, seed, organizations, contacts, anchor)
    people = generate_people(rng, organizations, companies, contacts, scale)
    after = round(before * _AFTER_ANCHOR_SHARE)
    world = World(
        seed=seed,
        scale=scale,
        anchor=anchor,
        organizations=organizations,
        companies=companies,
        contacts=contacts,
        identities=people.identities,
        deals=deals,
        product_signals=signals,
        twitter_users=people.users,
        tweets=generate_tweets(rng, organizations, people, anchor, before, after),
        twitter_truth=people.truth,
    )
    stackoverflow = generate_stackoverflow(
        seed,
        scale,
        anchor,
        organizations,
        companies,
        contacts,
        world.twitter_users,
        world.twitter_truth,
        questions_per_org=so_questions,
    )
    world.so_users = stackoverflow.users
    world.so_truth = stackoverflow.truth
    world.so_identities = stackoverflow.identities
    world.so_questions = stackoverflow.questions
    world.so_answers = stackoverflow.answers
    world.so_edits = stackoverflow.edits
    github = generate_github(
        seed,
        scale,
        anchor,
        organizations,
        companies,
        contacts,
        world.twitter_users,
        world.twitter_truth,
        world.so_users,
        activity=github_scale,
        # The first star of each product journey is a GitHub star on the main repository.
        journey_stars={
            s.contact_id: int(s.occurred_at.timestamp())
            for s in sorted(signals, key=lambda s: s.occurred_at, reverse=True)
            if s.signal_type == "github_star"
        },
    )
    world.github_repos = github.repos
    world.github_renamed = github.renamed
    world.github_missing = github.missing
    world.github_repositories = github.repositories
    world.github_users = github.users
    world.github_truth = github.truth
    world.github_identities = github.identities
    world.github_members = github.members
    world.github_stargazers = github.stargazers
    world.github_forks = github.forks
    world.github_issues = github.issues
    world.github_issue_comments = github.issue_comments
    world.github_review_comments = github.review_comments
    world.github_edits = github.edits
    return world


def _utc(moment: datetime) -> datetime:
    """A naive anchor (e.g. ``--anchor 2025-03-01`` on the CLI) is taken to be UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _today_utc() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
