"""Questions and answers of a sandbox world, and when each post was edited.

Every organization gets ``per_org`` questions in the 30 days up to the anchor, tagged with one or
two of its tags (sometimes the tag it shares with another organization) plus companion tags;
10% of that again is noise about other tags (including near-miss tags such as "acme"). Another
10% of each is asked in the day after the anchor. Questions get ~1.5 answers on average.

Activity goes on after the anchor, as on the real site: new answers and edits land on OLD
questions and raise their ``last_activity_date``, which is what a connector reading by activity
from a saved cursor must catch. The objects here hold every event up to the end of the world
(anchor + 1 day); ``so_index`` derives what the API shows at a given server clock.

Questions and answers share one id space, as posts do on Stack Overflow, and ids grow with
creation time; they do not depend on the anchor.
"""

from __future__ import annotations

import html
import random
import re
from collections import Counter
from dataclasses import dataclass, field

from devsignal_pipelines.sandbox.records import Organization
from devsignal_pipelines.sandbox.stackexchange.people import SOPeople
from devsignal_pipelines.sandbox.stackexchange.vocabulary import (
    COMPANION_TAGS,
    NOISE_QUESTIONS,
    TITLE_TEMPLATES,
    VERSIONS,
)
from devsignal_pipelines.sandbox.vocabulary import FEATURES

DAY_S = 86_400
WINDOW_DAYS = 30  # questions before the anchor are spread over this many days
AFTER_ANCHOR_S = DAY_S  # the world ends this long after the anchor
CONTENT_LICENSE = "CC BY-SA 4.0"
_AFTER_SHARE = 0.1
_NOISE_SHARE = 0.1
_FIRST_POST_ID = 79_000_000
# Cumulative probabilities of 0, 1, 2, ... answers: a mean of 1.51.
_ANSWER_COUNTS = (0.25, 0.55, 0.80, 0.92, 0.97, 1.0)
_DELETED_OWNER = 0.03


@dataclass
class SOPosts:
    questions: list[dict]  # question objects, newest (highest question_id) first
    answers: list[dict]  # answer objects, newest (highest answer_id) first
    edits: dict[int, tuple[int, ...]]  # post id -> every edit time, ascending


@dataclass
class _Answer:
    created: int
    owner: dict
    score: int
    edits: list[int] = field(default_factory=list)
    accepted: bool = False
    post_id: int = 0


@dataclass
class _Question:
    org_id: str | None  # whose tags it was asked under; None for noise
    created: int
    tags: list[str]
    title: str
    owner: dict
    score: int
    views: int
    edits: list[int] = field(default_factory=list)
    answers: list[_Answer] = field(default_factory=list)
    post_id: int = 0


def generate_posts(
    rng: random.Random,
    organizations: list[Organization],
    people: SOPeople,
    anchor_s: int,
    per_org: int,
) -> SOPosts:
    writer = _Writer(rng, organizations, people, anchor_s)
    drafts: list[_Question] = []
    for org in organizations:
        for created in _creation_times(rng, anchor_s, per_org):
            drafts.append(writer.org_question(org, created))
    noise = round(per_org * len(organizations) * _NOISE_SHARE)
    for created in _creation_times(rng, anchor_s, noise):
        drafts.append(writer.noise_question(created))
    for draft in drafts:
        writer.add_activity(draft)
    _assign_post_ids(rng, drafts)
    return _build(drafts)


def _creation_times(rng: random.Random, anchor_s: int, before: int) -> list[int]:
    """``before`` times in (anchor - 30 days, anchor] and 10% of that in (anchor, end]."""
    span = WINDOW_DAYS * DAY_S
    times = [anchor_s - int(rng.random() * span) for _ in range(before)]
    times += [
        anchor_s + 1 + int(rng.random() * (AFTER_ANCHOR_S - 1))
        for _ in range(round(before * _AFTER_SHARE))
    ]
    return times


class _Writer:
    """Draws owners, tags, titles and the activity of each question."""

    def __init__(
        self,
        rng: random.Random,
        organizations: list[Organization],
        people: SOPeople,
        anchor_s: int,
    ) -> None:
        self.rng = rng
        self.people = people
        self.anchor_s = anchor_s
        self.end_s = anchor_s + AFTER_ANCHOR_S
        self.shallow: dict[int, dict] = {}
        # Tags tracked by two or more organizations: each of them reads those questions.
        tracked = Counter(tag for org in organizations for tag in org.tags)
        self.shared_tags = {tag for tag, count in tracked.items() if count > 1}

    def org_question(self, org: Organization, created: int) -> _Question:
        rng = self.rng
        tags = self._org_tags(org)
        shared = any(tag in self.shared_tags for tag in tags)
        template = rng.choice(TITLE_TEMPLATES)
        title = template.format(
            p=org.product, f=rng.choice(FEATURES[org.id]), v=rng.choice(VERSIONS)
        )
        owner = self._owner(org.id, shared, contact_share=0.25, tricky_share=0.06)
        score, views = _question_score(rng), _views(rng)
        return _Question(org.id, created, tags, title, owner, score, views)

    def noise_question(self, created: int) -> _Question:
        rng = self.rng
        title, tags = rng.choice(NOISE_QUESTIONS)
        owner = self._owner(None, False, contact_share=0.0, tricky_share=0.0)
        score, views = _question_score(rng), _views(rng)
        return _Question(None, created, list(tags), title, owner, score, views)

    def _org_tags(self, org: Organization) -> list[str]:
        rng = self.rng
        primary, secondary, *rest = org.tags
        shared = rest[0] if rest else None
        draw = rng.random()
        if draw < 0.55:
            own = [primary]
        elif draw < 0.70:
            own = [primary, secondary]  # found by two per-tag calls: connectors must dedupe
        elif draw < 0.85 or shared is None:
            own = [secondary]
        else:
            own = [shared, primary] if rng.random() < 0.5 else [shared]
        companions = rng.sample(COMPANION_TAGS[org.id], rng.randint(0, 3))
        return own + companions

    def _owner(
        self, org_id: str | None, shared: bool, contact_share: float, tricky_share: float
    ) -> dict:
        rng, people = self.rng, self.people
        draw = rng.random()
        if draw < _DELETED_OWNER:
            return {"user_type": "does_not_exist", "display_name": f"user{rng.randrange(10**7)}"}
        draw -= _DELETED_OWNER
        if org_id is not None and draw < contact_share and people.contact_pool[org_id]:
            user_id = rng.choice(people.contact_pool[org_id])
        elif org_id is not None and draw < contact_share + tricky_share:
            user_id = rng.choice(people.tricky_pool[org_id])
        else:
            user_id = rng.choice(people.developer_pool)
        if shared and user_id not in people.cross_org_safe:
            user_id = rng.choice(people.developer_pool)
        return self._shallow(user_id)

    def _shallow(self, user_id: int) -> dict:
        """The ``shallow_user`` owner of a post (2.3: with account_id), one per user."""
        owner = self.shallow.get(user_id)
        if owner is None:
            user = self.people.users[user_id]
            owner = {
                "account_id": user["account_id"],
                "reputation": user["reputation"],
                "user_id": user_id,
                "user_type": "registered",
            }
            if "accept_rate" in user:
                owner["accept_rate"] = user["accept_rate"]
            owner |= {
                "profile_image": user["profile_image"],
                "display_name": user["display_name"],
                "link": user["link"],
            }
            self.shallow[user_id] = owner
        return owner

    def add_activity(self, question: _Question) -> None:
        """Answers, edits and acceptance; everything falls before the end of the world."""
        rng, anchor_s, end_s = self.rng, self.anchor_s, self.end_s
        created = question.created
        old = created < anchor_s - 2 * DAY_S
        shared = any(tag in self.shared_tags for tag in question.tags)
        if rng.random() < 0.3:
            question.edits.append(created + 60 + int(rng.expovariate(1 / 7200)))
        if old and rng.random() < 0.04:
            question.edits.append(anchor_s + 1 + rng.randrange(AFTER_ANCHOR_S - 1))
        question.edits = sorted({t for t in question.edits if t <= end_s})
        draw = rng.random()
        count = next(n for n, threshold in enumerate(_ANSWER_COUNTS) if draw < threshold)
        delays = [_answer_delay(rng) for _ in range(count)]
        if old and rng.random() < 0.05:
            delays.append(anchor_s + 1 + rng.randrange(AFTER_ANCHOR_S - 1) - created)
        for delay in sorted(delays):
            answer_created = created + delay
            if answer_created > end_s:
                continue
            owner = self._owner(question.org_id, shared, contact_share=0.15, tricky_share=0.04)
            answer = _Answer(answer_created, owner, _answer_score(rng))
            if rng.random() < 0.2:
                answer.edits.append(answer_created + 60 + int(rng.expovariate(1 / 10800)))
            if answer_created <= anchor_s and rng.random() < 0.02:
                answer.edits.append(anchor_s + 1 + rng.randrange(AFTER_ANCHOR_S - 1))
            answer.edits = sorted({t for t in answer.edits if t <= end_s})
            question.answers.append(answer)
        asker_exists = question.owner.get("user_type") == "registered"
        if question.answers and asker_exists and rng.random() < 0.5:
            best = max(question.answers, key=lambda a: a.score)
            best.accepted = True
            best.score += 1


def _assign_post_ids(rng: random.Random, drafts: list[_Question]) -> None:
    """Ids in creation order across questions and answers, with gaps (other sites' posts)."""
    posts: list[_Question | _Answer] = []
    for question in drafts:
        posts.append(question)
        posts.extend(question.answers)
    order = sorted(range(len(posts)), key=lambda i: (posts[i].created, i))
    post_id = _FIRST_POST_ID
    for position in order:
        post_id += 1 + int(rng.random() * 40)
        posts[position].post_id = post_id


def _build(drafts: list[_Question]) -> SOPosts:
    questions: list[dict] = []
    answers: list[dict] = []
    edits: dict[int, tuple[int, ...]] = {}
    for draft in drafts:
        activity = [draft.created, *draft.edits]
        accepted = None
        for answer in draft.answers:
            answers.append(_answer_object(answer, draft.post_id))
            activity += [answer.created, *answer.edits]
            if answer.edits:
                edits[answer.post_id] = tuple(answer.edits)
            if answer.accepted:
                accepted = answer.post_id
        if draft.edits:
            edits[draft.post_id] = tuple(draft.edits)
        item: dict = {
            "tags": draft.tags,
            "owner": draft.owner,
            "is_answered": accepted is not None or any(a.score > 0 for a in draft.answers),
            "view_count": draft.views,
        }
        if accepted is not None:
            item["accepted_answer_id"] = accepted
        item |= {
            "answer_count": len(draft.answers),
            "score": draft.score,
            "last_activity_date": max(activity),
            "creation_date": draft.created,
        }
        if draft.edits:
            item["last_edit_date"] = draft.edits[-1]
        item |= {
            "question_id": draft.post_id,
            "content_license": CONTENT_LICENSE,
            "link": f"https://stackoverflow.com/questions/{draft.post_id}/{_title_slug(draft.title)}",
            "title": draft.title,
        }
        questions.append(item)
    questions.sort(key=lambda q: q["question_id"], reverse=True)
    answers.sort(key=lambda a: a["answer_id"], reverse=True)
    return SOPosts(questions, answers, dict(sorted(edits.items())))


def _answer_object(answer: _Answer, question_id: int) -> dict:
    item: dict = {
        "owner": answer.owner,
        "is_accepted": answer.accepted,
        "score": answer.score,
        "last_activity_date": max([answer.created, *answer.edits]),
    }
    if answer.edits:
        item["last_edit_date"] = answer.edits[-1]
    item |= {
        "creation_date": answer.created,
        "answer_id": answer.post_id,
        "question_id": question_id,
        "content_license": CONTENT_LICENSE,
    }
    return item


def _answer_delay(rng: random.Random) -> int:
    """Most answers come within hours; some days later (so some land after the anchor)."""
    if rng.random() < 0.85:
        return 60 + int(rng.expovariate(1 / 18_000))
    return rng.randint(DAY_S, 10 * DAY_S)


def _question_score(rng: random.Random) -> int:
    penalty = rng.randint(1, 3) if rng.random() < 0.15 else 0
    return round(rng.expovariate(0.7)) - penalty


def _answer_score(rng: random.Random) -> int:
    return round(rng.expovariate(0.8)) - (1 if rng.random() < 0.08 else 0)


def _views(rng: random.Random) -> int:
    return 5 + int(rng.paretovariate(1.2) * 20)


def _title_slug(title: str) -> str:
    """The URL slug Stack Overflow derives from a title, cut at 80 characters."""
    slug = re.sub(r"[^a-z0-9]+", "-", html.unescape(title).lower()).strip("-")
    return slug[:80].rstrip("-")
