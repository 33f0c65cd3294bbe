"""Issues, pull requests, issue comments and pull request review comments of a repository.

Per repository at activity scale 1: 80-150 issues of which ~40% are pull requests (as on
GitHub, a pull request is an issue with a populated ``pull_request`` object), 200-400 issue
comments and 50-100 review comments on the pull requests.

Authors: the organization's members (triage, reviews: ``author_association`` "OWNER" for the
first member, "MEMBER" for the others), its contacts and tricky people, developers, bots
(dependabot / renovate pull requests, github-actions comments) and, rarely, ``ghost`` (a deleted
account). Anyone with a merged pull request in the repository is a "CONTRIBUTOR"; others "NONE".

Timelines, which the API replays at its clock (``index``): an issue's ``updated_at`` is its
latest event: creation, an edit (``edits``), a new issue comment or review comment, closing or
merging. Comment edits change the comment's ``updated_at`` only. About 12% of the comments are
recent activity on OLD issues (created more than 30 days before the anchor, commented in the
last week or after the anchor), which is what a connector reading with ``since`` must catch.
Issue, comment and review-comment ids grow with creation time over the whole world; numbers
grow with creation time within a repository.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

from devsignal_pipelines.sandbox.crm import ascii_slug
from devsignal_pipelines.sandbox.github.clock import DAY_S, END_S, Stamp, activity_offset
from devsignal_pipelines.sandbox.github.objects import API, WEB, node_id, reactions, to_simple
from devsignal_pipelines.sandbox.github.people import GitHubPeople
from devsignal_pipelines.sandbox.github.vocabulary import (
    BUMPS,
    COMMENT_BODIES,
    ISSUE_BODIES,
    ISSUE_LABELS,
    ISSUE_TITLES,
    PR_BODIES,
    PR_TITLES,
    REVIEW_BODIES,
    SOURCE_PATHS,
)
from devsignal_pipelines.sandbox.records import Organization
from devsignal_pipelines.sandbox.vocabulary import FEATURES

_PULL_SHARE = 0.4
_FIRST_ISSUE_ID = 2_400_000_000
_FIRST_COMMENT_ID = 2_500_000_000
_FIRST_REVIEW_COMMENT_ID = 1_800_000_000
_FIRST_REVIEW_ID = 2_200_000_000


@dataclass
class PlannedIssue:
    offset: int  # seconds from the anchor
    author: int
    pull: bool
    title: str
    body: str | None
    labels: list[str]
    closed: int | None  # offset, or None when still open at the end of the world
    merged: bool
    closer: int | None
    draft: bool
    edits: list[int]
    reactions: dict[str, int]
    issue_id: int = 0
    number: int = 0


@dataclass
class PlannedComment:
    issue: int  # position in Discussion.issues
    offset: int
    author: int
    body: str
    edits: list[int]
    reactions: dict[str, int]
    comment_id: int = 0
    review_id: int = 0  # review comments only
    path: str = ""
    line: int = 0


@dataclass
class BuiltDiscussion:
    issues: list[dict]
    comments: list[dict]
    review_comments: list[dict]


@dataclass
class Discussion:
    full_name: str
    org: Organization
    language: str
    first_number: int
    issues: list[PlannedIssue] = field(default_factory=list)
    comments: list[PlannedComment] = field(default_factory=list)
    reviews: list[PlannedComment] = field(default_factory=list)

    def build(
        self,
        rng: random.Random,
        people: GitHubPeople,
        stamp: Stamp,
        edits: dict[str, tuple[str, ...]],
        labels: dict[str, dict],
    ) -> BuiltDiscussion:
        """The API objects at the end of the world; edit times go into ``edits``."""
        return _Builder(self, rng, people, stamp, edits, labels).build()


def plan_discussion(
    rng: random.Random,
    full_name: str,
    org: Organization,
    language: str,
    people: GitHubPeople,
    activity: float,
) -> Discussion:
    discussion = Discussion(full_name, org, language, first_number=rng.randint(150, 1200))
    authors = _Authors(rng, people, org.id)
    for _ in range(round(rng.randint(80, 150) * activity)):
        discussion.issues.append(_plan_issue(rng, org, authors, activity_offset(rng)))
    discussion.issues.sort(key=lambda issue: issue.offset)
    if discussion.issues:
        for _ in range(round(rng.randint(200, 400) * activity)):
            discussion.comments.append(_plan_comment(rng, discussion, authors))
    pulls = [i for i, issue in enumerate(discussion.issues) if issue.pull]
    if pulls:
        for _ in range(round(rng.randint(50, 100) * activity)):
            discussion.reviews.append(_plan_review(rng, discussion, pulls, authors))
    return discussion


def assign_ids(rng: random.Random, discussions: list[Discussion]) -> None:
    """Ids in creation order over the whole world; numbers in creation order per repository."""
    for discussion in discussions:
        for position, issue in enumerate(discussion.issues):
            issue.number = discussion.first_number + position
    _ids(rng, [(i.offset, i) for d in discussions for i in d.issues], "issue_id", _FIRST_ISSUE_ID)
    _ids(
        rng,
        [(c.offset, c) for d in discussions for c in d.comments],
        "comment_id",
        _FIRST_COMMENT_ID,
    )
    reviews = [(c.offset, c) for d in discussions for c in d.reviews]
    _ids(rng, reviews, "comment_id", _FIRST_REVIEW_COMMENT_ID)
    _ids(rng, reviews, "review_id", _FIRST_REVIEW_ID)


def _ids(rng: random.Random, items: list[tuple[int, object]], attribute: str, first: int) -> None:
    next_id = first
    for _, item in sorted(items, key=lambda pair: pair[0]):  # stable: ties keep plan order
        next_id += rng.randint(200, 30_000)
        setattr(item, attribute, next_id)


class _Authors:
    """Who writes what, drawn from the people's pools."""

    def __init__(self, rng: random.Random, people: GitHubPeople, org_id: str) -> None:
        self.rng = rng
        self.people = people
        self.members = people.member_ids[org_id]
        self.contacts = people.contact_pool[org_id]
        self.tricky = people.tricky_pool[org_id]
        self.developers = people.developer_pool

    def pick(self, weights: tuple[float, float, float, float, float]) -> int:
        """members, contacts, tricky, developers, ghost (the rest)."""
        rng = self.rng
        draw = rng.random()
        for pool, weight in zip(
            (self.members, self.contacts, self.tricky, self.developers), weights, strict=False
        ):
            if draw < weight and pool:
                return rng.choice(pool)
            draw -= weight
        return self.people.ghost_id

    def member(self) -> int:
        return self.rng.choice(self.members)


def _plan_issue(rng: random.Random, org: Organization, authors: _Authors, offset: int):
    features = FEATURES[org.id]
    pull = rng.random() < _PULL_SHARE
    text = {"f": rng.choice(features), "p": org.product, "n": rng.randint(100, 900)}
    labels: list[str] = []
    if pull and rng.random() < 0.25:
        bot = "dependabot[bot]" if rng.random() < 0.7 else "renovate[bot]"
        author = authors.people.bot_ids[bot]
        package, old, new = rng.choice(BUMPS)
        title = (
            f"Bump {package} from {old} to {new}"
            if bot == "dependabot[bot]"
            else f"chore(deps): update dependency {package} to v{new}"
        )
        body: str | None = f"Bumps {package} from {old} to {new}."
        labels = ["dependencies"]
    elif pull:
        author = authors.pick((0.45, 0.15, 0.05, 0.35, 0.0))
        title = rng.choice(PR_TITLES).format(**text)
        body = rng.choice(PR_BODIES).format(**text) if rng.random() < 0.85 else None
    else:
        author = authors.pick((0.15, 0.27, 0.1, 0.46, 0.02))
        title = rng.choice(ISSUE_TITLES).format(**text)
        body = rng.choice(ISSUE_BODIES).format(**text) if rng.random() < 0.9 else None
        labels = sorted(set(rng.sample(ISSUE_LABELS, rng.choice((0, 1, 1, 2)))))
    closed: int | None = None
    if rng.random() < (0.8 if pull else 0.6):
        delay = int(rng.expovariate(1 / ((3 if pull else 12) * DAY_S))) + 60
        if offset + delay <= END_S:
            closed = offset + delay
    edits = []
    if rng.random() < 0.15:
        last = min(END_S, offset + 30 * DAY_S, closed if closed is not None else END_S)
        if last > offset + 60:
            edits.append(offset + 60 + int((last - offset - 60) * rng.random()))
    return PlannedIssue(
        offset=offset,
        author=author,
        pull=pull,
        title=title,
        body=body,
        labels=labels,
        closed=closed,
        merged=pull and closed is not None and rng.random() < 0.75,
        closer=authors.member() if closed is not None else None,
        draft=pull and rng.random() < 0.08,
        edits=edits,
        reactions=_reaction_counts(rng, 0.35),
    )


def _plan_comment(rng: random.Random, discussion: Discussion, authors: _Authors):
    issues = discussion.issues
    old = [i for i, issue in enumerate(issues) if issue.offset < -30 * DAY_S]
    if old and rng.random() < 0.12:
        position = rng.choice(old)
        offset = -7 * DAY_S + int((END_S + 7 * DAY_S) * rng.random())
    else:
        position = rng.randrange(len(issues))
        start = issues[position].offset
        offset = start + 60 + int(rng.expovariate(1 / (2 * DAY_S)))
        if offset > END_S:
            offset = start + int((END_S - start) * rng.random())
    issue = issues[position]
    draw = rng.random()
    if draw < 0.2 and issue.author not in authors.people.bot_ids.values():
        author = issue.author
    elif draw < 0.22:
        author = authors.people.bot_ids["github-actions[bot]"]
    else:
        author = authors.pick((0.45, 0.12, 0.06, 0.36, 0.01))
    text = {
        "f": rng.choice(FEATURES[discussion.org.id]),
        "p": discussion.org.product,
        "cli": ascii_slug(discussion.org.product),
    }
    return PlannedComment(
        issue=position,
        offset=offset,
        author=author,
        body=rng.choice(COMMENT_BODIES).format(**text),
        edits=_comment_edits(rng, offset, 0.1),
        reactions=_reaction_counts(rng, 0.2),
    )


def _plan_review(rng: random.Random, discussion: Discussion, pulls: list[int], authors: _Authors):
    position = rng.choice(pulls)
    pull = discussion.issues[position]
    last = pull.closed if pull.closed is not None else END_S
    offset = pull.offset + 60 + int(rng.expovariate(1 / DAY_S))
    if offset > last:
        offset = pull.offset + int((last - pull.offset) * rng.random())
    human = pull.author not in authors.people.bot_ids.values()
    draw = rng.random()
    if draw < 0.6 or (not human and draw < 0.85):
        author = authors.member()
    elif draw < 0.85:
        author = pull.author
    else:
        author = authors.pick((0.0, 0.3, 0.1, 0.6, 0.0))
    return PlannedComment(
        issue=position,
        offset=offset,
        author=author,
        body=rng.choice(REVIEW_BODIES),
        edits=_comment_edits(rng, offset, 0.05),
        reactions=_reaction_counts(rng, 0.05),
        path=rng.choice(SOURCE_PATHS[discussion.language]),
        line=rng.randint(3, 400),
    )


def _comment_edits(rng: random.Random, offset: int, share: float) -> list[int]:
    if rng.random() >= share:
        return []
    last = min(END_S, offset + 7 * DAY_S)
    return [offset + 1 + int((last - offset - 1) * rng.random())] if last > offset + 1 else []


def _reaction_counts(rng: random.Random, share: float) -> dict[str, int]:
    if rng.random() >= share:
        return {}
    counts = {"+1": int(rng.paretovariate(1.2))}
    for kind in ("heart", "rocket", "eyes", "hooray", "laugh"):
        if rng.random() < 0.15:
            counts[kind] = rng.randint(1, 3)
    return counts


class _Builder:
    def __init__(self, discussion: Discussion, rng, people, stamp, edits, labels) -> None:
        self.d = discussion
        self.rng = rng
        self.people = people
        self.stamp = stamp
        self.edits = edits
        self.labels = labels
        self.users = {}
        first_member = people.member_ids[discussion.org.id][0]
        self.association = {user_id: "MEMBER" for user_id in people.member_ids[discussion.org.id]}
        self.association[first_member] = "OWNER"
        for issue in discussion.issues:
            if issue.merged:
                self.association.setdefault(issue.author, "CONTRIBUTOR")

    def user(self, user_id: int) -> dict:
        simple = self.users.get(user_id)
        if simple is None:
            simple = self.users[user_id] = to_simple(self.people.users[user_id])
        return simple

    def build(self) -> BuiltDiscussion:
        d = self.d
        comment_times: dict[int, list[int]] = {}
        for comment in d.comments + d.reviews:
            comment_times.setdefault(comment.issue, []).append(comment.offset)
        counts = Counter(comment.issue for comment in d.comments)
        issues = [
            self._issue(issue, comment_times.get(position, []), counts[position])
            for position, issue in enumerate(d.issues)
        ]
        comments = [self._comment(c) for c in sorted(d.comments, key=lambda c: c.comment_id)]
        reviews = [self._review(c) for c in sorted(d.reviews, key=lambda c: c.comment_id)]
        return BuiltDiscussion(issues, comments, reviews)

    def _issue(self, issue: PlannedIssue, comment_offsets: list[int], comments: int) -> dict:
        d, stamp = self.d, self.stamp
        base = f"{API}/repos/{d.full_name}"
        url = f"{base}/issues/{issue.number}"
        kind = "pull" if issue.pull else "issues"
        html = f"{WEB}/{d.full_name}/{kind}/{issue.number}"
        node = node_id("PullRequest" if issue.pull else "Issue", issue.issue_id)
        if issue.edits:
            self.edits[node] = tuple(stamp(offset) for offset in issue.edits)
        events = [issue.offset, *issue.edits, *comment_offsets]
        if issue.closed is not None:
            events.append(issue.closed)
        closed_at = stamp(issue.closed) if issue.closed is not None else None
        item: dict = {
            "url": url,
            "repository_url": base,
            "labels_url": f"{url}/labels{{/name}}",
            "comments_url": f"{url}/comments",
            "events_url": f"{url}/events",
            "html_url": html,
            "id": issue.issue_id,
            "node_id": node,
            "number": issue.number,
            "title": issue.title,
            "user": self.user(issue.author),
            "labels": [self.labels[name] for name in issue.labels],
            "state": "closed" if closed_at else "open",
            "locked": False,
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "comments": comments,
            "created_at": stamp(issue.offset),
            "updated_at": stamp(max(events)),
            "closed_at": closed_at,
            "author_association": self.association.get(issue.author, "NONE"),
            "active_lock_reason": None,
        }
        if issue.pull:
            item["draft"] = issue.draft
            item["pull_request"] = {
                "url": f"{base}/pulls/{issue.number}",
                "html_url": html,
                "diff_url": f"{html}.diff",
                "patch_url": f"{html}.patch",
                "merged_at": closed_at if issue.merged else None,
            }
        item["body"] = issue.body
        item["closed_by"] = self.user(issue.closer) if closed_at and issue.closer else None
        item["reactions"] = reactions(url, issue.reactions)
        item["timeline_url"] = f"{url}/timeline"
        item["performed_via_github_app"] = None
        if closed_at and not issue.pull:
            item["state_reason"] = "completed" if self.rng.random() < 0.8 else "not_planned"
        else:
            item["state_reason"] = None
        return item

    def _comment(self, comment: PlannedComment) -> dict:
        d, stamp = self.d, self.stamp
        issue = d.issues[comment.issue]
        kind = "pull" if issue.pull else "issues"
        url = f"{API}/repos/{d.full_name}/issues/comments/{comment.comment_id}"
        node = node_id("IssueComment", comment.comment_id)
        if comment.edits:
            self.edits[node] = tuple(stamp(offset) for offset in comment.edits)
        return {
            "url": url,
            "html_url": f"{WEB}/{d.full_name}/{kind}/{issue.number}"
            f"#issuecomment-{comment.comment_id}",
            "issue_url": f"{API}/repos/{d.full_name}/issues/{issue.number}",
            "id": comment.comment_id,
            "node_id": node,
            "user": self.user(comment.author),
            "created_at": stamp(comment.offset),
            "updated_at": stamp(max([comment.offset, *comment.edits])),
            "author_association": self.association.get(comment.author, "NONE"),
            "body": comment.body,
            "reactions": reactions(url, comment.reactions),
            "performed_via_github_app": None,
        }

    def _review(self, comment: PlannedComment) -> dict:
        d, stamp, rng = self.d, self.stamp, self.rng
        pull = d.issues[comment.issue]
        url = f"{API}/repos/{d.full_name}/pulls/comments/{comment.comment_id}"
        html = f"{WEB}/{d.full_name}/pull/{pull.number}#discussion_r{comment.comment_id}"
        pull_url = f"{API}/repos/{d.full_name}/pulls/{pull.number}"
        node = node_id("PullRequestReviewComment", comment.comment_id)
        if comment.edits:
            self.edits[node] = tuple(stamp(offset) for offset in comment.edits)
        start = max(1, comment.line - 3)
        position = rng.randint(1, 12)
        return {
            "url": url,
            "pull_request_review_id": comment.review_id,
            "id": comment.comment_id,
            "node_id": node,
            "diff_hunk": f"@@ -{start},6 +{start},7 @@\n {comment.path}\n+    // changed",
            "path": comment.path,
            "commit_id": f"{rng.getrandbits(160):040x}",
            "original_commit_id": f"{rng.getrandbits(160):040x}",
            "user": self.user(comment.author),
            "body": comment.body,
            "created_at": stamp(comment.offset),
            "updated_at": stamp(max([comment.offset, *comment.edits])),
            "html_url": html,
            "pull_request_url": pull_url,
            "author_association": self.association.get(comment.author, "NONE"),
            "_links": {
                "self": {"href": url},
                "html": {"href": html},
                "pull_request": {"href": pull_url},
            },
            "reactions": reactions(url, comment.reactions),
            "start_line": None,
            "original_start_line": None,
            "start_side": None,
            "line": comment.line,
            "original_line": comment.line,
            "side": "RIGHT",
            "original_position": position,
            "position": position,
            "subject_type": "line",
        }
