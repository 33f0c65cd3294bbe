"""What happens in the organizations' repositories: stars, forks, and the repositories themselves.

Each organization has two repositories with activity (``vocabulary.REPO_PLANS``): its product's
and a second one, renamed since the organization started tracking it. Per repository at
activity scale 1: 200-400 stargazers, 30-60 forks and the issues, pull requests and comments of
``issues``. Activity is spread over the year before the anchor; about 4% of it happens in the
day after the anchor, where the world ends, hidden until the server clock reaches it.

Who stars: most of the organization's contacts on GitHub, its tricky people (employees,
outsiders, namesakes), some of its members, some developers who are also on X, and developers
to fill up. A person stars a repository at most once. Forks belong to people too (one per
person and repository).

Times are drawn as offsets from the anchor and ids are handed out in time order over the whole
world, so only the timestamps depend on the anchor; object ids, numbers, owners and texts don't.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

from devsignal_pipelines.sandbox.github.clock import DAY_S, END_S, Stamp, activity_offset
from devsignal_pipelines.sandbox.github.issues import (
    BuiltDiscussion,
    Discussion,
    assign_ids,
    plan_discussion,
)
from devsignal_pipelines.sandbox.github.objects import (
    APACHE_LICENSE,
    MIT_LICENSE,
    label,
    repository,
    timestamp,
    to_simple,
)
from devsignal_pipelines.sandbox.github.people import GitHubPeople
from devsignal_pipelines.sandbox.github.vocabulary import LABELS, REPO_PLANS
from devsignal_pipelines.sandbox.records import Organization

_FIRST_FORK_ID = 880_000_000
_FIRST_LABEL_ID = 6_100_000_000


@dataclass
class RepoDraft:
    """One repository while it is generated; times are offsets (seconds) from the anchor."""

    org: Organization
    name: str
    language: str
    description: str
    repo_id: int
    created_s: int  # absolute epoch seconds: repositories predate every anchor we use
    stars: list[tuple[int, int]] = field(default_factory=list)  # (offset, user id)
    forks: list[tuple[int, int]] = field(default_factory=list)  # (offset, owner id)
    discussion: Discussion | None = None

    @property
    def full_name(self) -> str:
        return f"{self.org.id}/{self.name}"


@dataclass
class GitHubActivity:
    repos: dict[str, list[str]]  # org id -> tracked full names, as the organization set them
    renamed: dict[str, str]  # old full name -> current full name
    missing: list[str]  # tracked full names that are private: 404
    repositories: dict[str, dict]  # current full name -> GET /repos object at the world's end
    stargazers: dict[str, list[dict]]  # full name -> {"starred_at", "user_id"}, oldest first
    forks: dict[str, list[dict]]  # full name -> fork repository objects, oldest first
    issues: dict[str, list[dict]]  # full name -> issues and pull requests, by number
    issue_comments: dict[str, list[dict]]  # full name -> comments, by id (= creation order)
    review_comments: dict[str, list[dict]]  # full name -> pull request review comments, by id
    edits: dict[str, tuple[str, ...]]  # node_id of an issue or comment -> later edit times


def generate_activity(
    rng: random.Random,
    organizations: list[Organization],
    people: GitHubPeople,
    anchor_s: int,
    activity: float,
    journey_stars: dict[str, int] | None = None,
) -> GitHubActivity:
    """``journey_stars``: CRM contact id -> epoch seconds of the `github_star` step of that
    contact's product journey (sandbox/crm.py); a contact on GitHub stars the organization's main
    repository exactly then, so the funnel's first step comes from GitHub."""
    plans: list[RepoDraft] = []
    tracked: dict[str, list[str]] = {}
    renamed: dict[str, str] = {}
    missing: list[str] = []
    for org in organizations:
        spec = REPO_PLANS[org.id]
        repos = [
            _plan(rng, org, spec.main, spec.main_language, f"{org.product}: the core", 2019),
            _plan(rng, org, spec.second, spec.second_language, f"{org.product} client", 2021),
        ]
        journeys = _journey_offsets(people, org.id, journey_stars or {}, anchor_s)
        for repo, star_share, fixed in zip(repos, (0.7, 0.35), (journeys, {}), strict=True):
            _stars(rng, repo, people, activity, star_share, fixed)
            _forks(rng, repo, people, activity)
            repo.discussion = plan_discussion(
                rng, repo.full_name, org, repo.language, people, activity
            )
        plans += repos
        old = f"{org.id}/{spec.renamed_from}"
        renamed[old] = repos[1].full_name
        missing.append(f"{org.id}/{spec.private}")
        tracked[org.id] = [repos[0].full_name, old, missing[-1]]
    edits: dict[str, tuple[str, ...]] = {}
    stamp = Stamp(anchor_s)
    forks = _fork_objects(rng, plans, people, stamp)
    assign_ids(rng, [plan.discussion for plan in plans if plan.discussion is not None])
    discussions = {
        plan.full_name: plan.discussion.build(rng, people, stamp, edits, _labels(rng, plan))
        for plan in plans
        if plan.discussion is not None
    }
    return GitHubActivity(
        repos=tracked,
        renamed=renamed,
        missing=missing,
        repositories={
            plan.full_name: _repository(rng, plan, people, stamp, forks, discussions)
            for plan in plans
        },
        stargazers={
            plan.full_name: [
                {"starred_at": stamp(offset), "user_id": user_id}
                for offset, user_id in sorted(plan.stars)
            ]
            for plan in plans
        },
        forks=forks,
        issues={name: built.issues for name, built in discussions.items()},
        issue_comments={name: built.comments for name, built in discussions.items()},
        review_comments={name: built.review_comments for name, built in discussions.items()},
        edits=edits,
    )


def _plan(
    rng: random.Random, org: Organization, name: str, language: str, description: str, year: int
) -> RepoDraft:
    created = datetime(year, rng.randint(1, 12), rng.randint(1, 28), tzinfo=UTC)
    created_s = int(created.timestamp()) + rng.randrange(DAY_S)
    repo_id = (
        rng.randint(150_000_000, 450_000_000)
        if year < 2020
        else rng.randint(450_000_000, 700_000_000)
    )
    return RepoDraft(org, name, language, description, repo_id, created_s)


def _journey_offsets(
    people: GitHubPeople, org_id: str, journey_stars: dict[str, int], anchor_s: int
) -> dict[int, int]:
    """GitHub user id -> offset of the star its contact's product journey puts on the main repo."""
    return {
        user_id: journey_stars[people.truth[user_id].contact_id] - anchor_s
        for user_id in people.contact_ids[org_id]
        if people.truth[user_id].contact_id in journey_stars
    }


def _stars(
    rng: random.Random,
    repo: RepoDraft,
    people: GitHubPeople,
    activity: float,
    share: float,
    fixed: dict[int, int],
) -> None:
    org_id = repo.org.id
    wanted = round(rng.randint(200, 400) * activity)
    if wanted == 0:
        return
    chosen = [u for u in people.contact_ids[org_id] if rng.random() < share]
    chosen += [u for u in people.tricky_ids[org_id] if rng.random() < share]
    chosen += [u for u in people.member_ids[org_id] if rng.random() < 0.5]
    chosen += [u for u in people.x_developer_ids if rng.random() < 0.25]
    fill = max(0, wanted - len(chosen))
    chosen += rng.sample(people.developer_ids, min(fill, len(people.developer_ids)))
    drawn = {user_id: activity_offset(rng) for user_id in chosen}
    # Journeys' stars at their own times (drawn offsets above keep every later draw unchanged).
    drawn.update(fixed)
    repo.stars = [(offset, user_id) for user_id, offset in drawn.items()]


def _forks(rng: random.Random, repo: RepoDraft, people: GitHubPeople, activity: float) -> None:
    wanted = round(rng.randint(30, 60) * activity)
    candidates = people.developer_ids + people.contact_ids[repo.org.id]
    owners = rng.sample(candidates, min(wanted, len(candidates)))
    repo.forks = [(activity_offset(rng), owner) for owner in owners]


def _fork_objects(
    rng: random.Random, plans: list[RepoDraft], people: GitHubPeople, stamp: Stamp
) -> dict[str, list[dict]]:
    """Fork repository objects; fork ids grow with creation time over the whole world."""
    every = sorted(
        (offset, position, owner)
        for position, plan in enumerate(plans)
        for offset, owner in plan.forks
    )
    forks: dict[str, list[dict]] = {plan.full_name: [] for plan in plans}
    fork_id = _FIRST_FORK_ID
    for offset, position, owner in every:
        fork_id += rng.randint(500, 40_000)
        plan = plans[position]
        stars = int(rng.paretovariate(2.5)) - 1
        created = stamp(offset)
        pushed = stamp(min(END_S, offset + int(rng.expovariate(1 / (3 * DAY_S)))))
        fork = repository(
            fork_id,
            to_simple(people.users[owner]),
            plan.name,
            plan.description,
            None,
            (created, max(created, pushed), pushed),
            (stars, 0, 0),
            fork=True,
            topics=[],
        )
        fork["license"] = _license(plan)
        forks[plan.full_name].append(fork)
    return forks


def _license(plan: RepoDraft) -> dict:
    return dict(APACHE_LICENSE if plan.language == "Go" else MIT_LICENSE)


def _labels(rng: random.Random, plan: RepoDraft) -> dict[str, dict]:
    base = _FIRST_LABEL_ID + rng.randrange(10**8)
    return {
        name: label(base + 7 * position, plan.full_name, name, color, description, default)
        for position, (name, color, description, default) in enumerate(LABELS)
    }


def _repository(
    rng: random.Random,
    plan: RepoDraft,
    people: GitHubPeople,
    stamp: Stamp,
    forks: dict[str, list[dict]],
    discussions: dict[str, BuiltDiscussion],
) -> dict:
    """GET /repos/{owner}/{repo} at the end of the world, as an unauthenticated caller sees it."""
    owner = to_simple(people.users[people.owner_ids[plan.org.id]])
    built = discussions[plan.full_name]
    merged = [i["pull_request"]["merged_at"] for i in built.issues if "pull_request" in i]
    pushed = max([m for m in merged if m], default=timestamp(plan.created_s))
    starred = [stamp(offset) for offset, _ in plan.stars]
    updated = max([pushed, *starred])
    open_issues = sum(1 for issue in built.issues if issue["state"] == "open")
    repo = repository(
        plan.repo_id,
        owner,
        plan.name,
        plan.description,
        plan.language,
        (timestamp(plan.created_s), updated, pushed),
        (len(plan.stars), len(forks[plan.full_name]), open_issues),
        fork=False,
        topics=sorted({plan.org.id, plan.language.lower(), "developer-tools"}),
    )
    repo["homepage"] = f"https://{REPO_PLANS[plan.org.id].domain}"
    repo["size"] = rng.randint(2_000, 90_000)
    repo["license"] = _license(plan)
    repo["organization"] = owner
    repo["network_count"] = len(forks[plan.full_name])
    repo["subscribers_count"] = rng.randint(10, 80)
    return repo
