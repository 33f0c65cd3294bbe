"""The Stack Overflow part of a sandbox world: users, questions, answers and their truth.

It is generated after the X part, from its own ``random.Random(f"{seed}:stackoverflow")``, and
only reads the X part (to put some of the same people on both platforms), so adding or changing
anything here never changes the CRM, the X accounts or the tweets of a seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from devsignal_pipelines.sandbox.records import (
    Company,
    Contact,
    Identity,
    Organization,
    StackOverflowUserTruth,
    TwitterUserTruth,
)
from devsignal_pipelines.sandbox.stackexchange.people import generate_so_people
from devsignal_pipelines.sandbox.stackexchange.posts import generate_posts

QUESTIONS_PER_ORG_AT_SCALE_1 = 300


@dataclass
class StackOverflowWorld:
    users: dict[int, dict]
    truth: dict[int, StackOverflowUserTruth]
    identities: list[Identity]
    questions: list[dict]
    answers: list[dict]
    edits: dict[int, tuple[int, ...]]


def generate_stackoverflow(
    seed: int,
    scale: float,
    anchor: datetime,
    organizations: list[Organization],
    companies: list[Company],
    contacts: list[Contact],
    twitter_users: dict[str, dict],
    twitter_truth: dict[str, TwitterUserTruth],
    questions_per_org: int | None = None,
) -> StackOverflowWorld:
    """``questions_per_org`` before the anchor defaults to 300 x scale (users scale either way)."""
    per_org = (
        round(QUESTIONS_PER_ORG_AT_SCALE_1 * scale)
        if questions_per_org is None
        else questions_per_org
    )
    if per_org < 0:
        raise ValueError(f"so_questions must be >= 0, got {questions_per_org}")
    rng = random.Random(f"{seed}:stackoverflow")
    anchor_s = int(anchor.timestamp())
    people = generate_so_people(
        rng, organizations, companies, contacts, twitter_users, twitter_truth, scale, anchor_s
    )
    posts = generate_posts(rng, organizations, people, anchor_s, per_org)
    return StackOverflowWorld(
        users=people.users,
        truth=people.truth,
        identities=people.identities,
        questions=posts.questions,
        answers=posts.answers,
        edits=posts.edits,
    )
