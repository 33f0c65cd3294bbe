"""The GitHub part of a sandbox world: accounts, their truth, repositories and their activity.

It is generated last, from its own ``random.Random(f"{seed}:github")``, and only reads the
parts generated before it (the CRM, X and Stack Overflow, to put the same people on GitHub and
to keep strangers' names and logins apart from theirs), so adding or changing anything here
never changes the CRM, X or Stack Overflow of a seed.

What an organization tracks (``repos``) is what it configured: its product's repository, a
second one under the name it had when the organization added it (renamed since: the old name
answers 301, see ``renamed``), and a private one the token cannot see (404, ``missing``).
Objects hold every event up to the end of the world (anchor + 1 day); what the API shows at a
given clock is ``index``'s business.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from devsignal_pipelines.sandbox.github.activity import generate_activity
from devsignal_pipelines.sandbox.github.people import generate_github_people
from devsignal_pipelines.sandbox.records import (
    Company,
    Contact,
    GitHubUserTruth,
    Identity,
    Organization,
    TwitterUserTruth,
)


@dataclass
class GitHubWorld:
    repos: dict[str, list[str]]
    renamed: dict[str, str]
    missing: list[str]
    repositories: dict[str, dict]
    users: dict[int, dict]
    truth: dict[int, GitHubUserTruth]
    identities: list[Identity]
    members: dict[str, list[str]]
    stargazers: dict[str, list[dict]]
    forks: dict[str, list[dict]]
    issues: dict[str, list[dict]]
    issue_comments: dict[str, list[dict]]
    review_comments: dict[str, list[dict]]
    edits: dict[str, tuple[str, ...]]


def generate_github(
    seed: int,
    scale: float,
    anchor: datetime,
    organizations: list[Organization],
    companies: list[Company],
    contacts: list[Contact],
    twitter_users: dict[str, dict],
    twitter_truth: dict[str, TwitterUserTruth],
    so_users: dict[int, dict],
    activity: float | None = None,
    journey_stars: dict[str, int] | None = None,
) -> GitHubWorld:
    """``activity`` multiplies stars, forks, issues and comments per repository (default:
    ``scale``; 0 gives repositories without activity). People scale with ``scale`` either way."""
    activity = scale if activity is None else activity
    if activity < 0:
        raise ValueError(f"github_scale must be >= 0, got {activity}")
    rng = random.Random(f"{seed}:github")
    people = generate_github_people(
        rng, organizations, companies, contacts, twitter_users, twitter_truth, so_users, scale
    )
    built = generate_activity(
        rng, organizations, people, int(anchor.timestamp()), activity, journey_stars
    )
    return GitHubWorld(
        repos=built.repos,
        renamed=built.renamed,
        missing=built.missing,
        repositories=built.repositories,
        users=people.users,
        truth=people.truth,
        identities=people.identities,
        members=people.members,
        stargazers=built.stargazers,
        forks=built.forks,
        issues=built.issues,
        issue_comments=built.issue_comments,
        review_comments=built.review_comments,
        edits=built.edits,
    )
