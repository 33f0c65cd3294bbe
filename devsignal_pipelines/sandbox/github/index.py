"""What GitHub looks like at a given server clock, derived from a world's repositories.

The world's objects hold every event up to the end of the world. At an earlier clock, later
stars, forks, issues and comments do not exist yet, and an existing issue shows the state it
had then: open if it was closed later, ``comments`` counting only earlier comments,
``updated_at`` its latest earlier event (creation, edit, issue or review comment, closing),
``merged_at`` null if merged later. A comment's ``updated_at`` is its latest edit by then; a
repository's counts (stars, forks, open issues), ``updated_at`` (latest star) and ``pushed_at``
(latest merge) are those of the clock. At or after the end of the world every object is exactly
the world's. Clocks are GitHub timestamps (``YYYY-MM-DDTHH:MM:SSZ``), which sort as strings.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from devsignal_pipelines.sandbox.github.objects import to_simple
from devsignal_pipelines.sandbox.world import World


def _latest(times: tuple[str, ...], now: str) -> str | None:
    position = bisect_right(times, now)
    return times[position - 1] if position else None


@dataclass(frozen=True)
class _IssueTimeline:
    item: dict  # the world's object: its state at the end of the world
    events: tuple[str, ...]  # creation, edits, comments, review comments, closing; ascending
    comment_times: tuple[str, ...]  # creation of each issue comment, ascending

    def as_of(self, now: str) -> dict:
        item = dict(self.item)
        closed_at = item["closed_at"]
        if closed_at is not None and closed_at > now:
            item |= {"state": "open", "closed_at": None, "closed_by": None, "state_reason": None}
            if "pull_request" in item:
                item["pull_request"] = {**item["pull_request"], "merged_at": None}
        item["comments"] = bisect_right(self.comment_times, now)
        item["updated_at"] = _latest(self.events, now)
        return item


@dataclass(frozen=True)
class _CommentTimeline:
    item: dict
    times: tuple[str, ...]  # creation and every edit, ascending

    def as_of(self, now: str) -> dict:
        item = dict(self.item)
        item["updated_at"] = _latest(self.times, now)
        return item


class RepositoryIndex:
    """One repository's activity, sorted by time, answering "what exists at ``now``"."""

    def __init__(self, world: World, full_name: str) -> None:
        self.item = world.github_repositories[full_name]
        self.full_name = full_name
        self.repo_id: int = self.item["id"]
        stars = world.github_stargazers.get(full_name, [])
        self._star_times = tuple(star["starred_at"] for star in stars)
        self._star_users = tuple(star["user_id"] for star in stars)
        forks = sorted(
            world.github_forks.get(full_name, []), key=lambda f: (f["created_at"], f["id"])
        )
        self._forks = forks
        self._fork_times = tuple(fork["created_at"] for fork in forks)
        edits = world.github_edits
        comments = world.github_issue_comments.get(full_name, [])
        reviews = world.github_review_comments.get(full_name, [])
        by_issue: dict[str, list[str]] = {}
        reviewed: dict[str, list[str]] = {}
        for comment in comments:
            by_issue.setdefault(comment["issue_url"], []).append(comment["created_at"])
        for review in reviews:
            issue_url = review["pull_request_url"].replace("/pulls/", "/issues/")
            reviewed.setdefault(issue_url, []).append(review["created_at"])
        issues = sorted(world.github_issues.get(full_name, []), key=lambda i: i["number"])
        self._issues = [
            _IssueTimeline(
                issue,
                tuple(
                    sorted(
                        [
                            issue["created_at"],
                            *edits.get(issue["node_id"], ()),
                            *by_issue.get(issue["url"], ()),
                            *reviewed.get(issue["url"], ()),
                            *([issue["closed_at"]] if issue["closed_at"] else []),
                        ]
                    )
                ),
                tuple(sorted(by_issue.get(issue["url"], ()))),
            )
            for issue in issues
        ]
        self._comments = self._comment_timelines(comments, edits)
        self._reviews = self._comment_timelines(reviews, edits)
        merges = [
            issue["pull_request"]["merged_at"]
            for issue in issues
            if "pull_request" in issue and issue["pull_request"]["merged_at"]
        ]
        self._merge_times = tuple(sorted(merges))

    @staticmethod
    def _comment_timelines(items: list[dict], edits: dict) -> list[_CommentTimeline]:
        ordered = sorted(items, key=lambda item: item["id"])
        return [
            _CommentTimeline(
                item, tuple(sorted((item["created_at"], *edits.get(item["node_id"], ()))))
            )
            for item in ordered
        ]

    def repository(self, now: str) -> dict:
        item = dict(self.item)
        stars = bisect_right(self._star_times, now)
        forks = bisect_right(self._fork_times, now)
        open_issues = sum(
            1
            for timeline in self._issues
            if timeline.item["created_at"] <= now
            and (timeline.item["closed_at"] is None or timeline.item["closed_at"] > now)
        )
        pushed = _latest(self._merge_times, now) or item["created_at"]
        last_star = self._star_times[stars - 1] if stars else pushed
        item |= {
            "updated_at": max(pushed, last_star),
            "pushed_at": pushed,
            "stargazers_count": stars,
            "watchers_count": stars,
            "watchers": stars,
            "forks_count": forks,
            "forks": forks,
            "network_count": forks,
            "open_issues_count": open_issues,
            "open_issues": open_issues,
        }
        return item

    def stargazers(self, now: str) -> list[tuple[str, int]]:
        """(starred_at, user id) of the stars given by ``now``, oldest first."""
        visible = bisect_right(self._star_times, now)
        return list(zip(self._star_times[:visible], self._star_users[:visible], strict=True))

    def forks(self, now: str) -> list[dict]:
        """Forks created by ``now``, oldest first."""
        return self._forks[: bisect_right(self._fork_times, now)]

    def issues(self, now: str) -> list[dict]:
        """Issues and pull requests created by ``now``, as they were then, by number."""
        return [t.as_of(now) for t in self._issues if t.item["created_at"] <= now]

    def issue_comments(self, now: str) -> list[dict]:
        """Issue comments created by ``now``, as they were then, by id."""
        return [t.as_of(now) for t in self._comments if t.item["created_at"] <= now]

    def review_comments(self, now: str) -> list[dict]:
        """Pull request review comments created by ``now``, as they were then, by id."""
        return [t.as_of(now) for t in self._reviews if t.item["created_at"] <= now]


class GitHubIndex:
    """Every repository and account of a world, by the names and ids the API is called with."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.repositories = {
            name: RepositoryIndex(world, name) for name in world.github_repositories
        }
        self.by_name = {name.lower(): index for name, index in self.repositories.items()}
        self.by_id = {index.repo_id: index for index in self.repositories.values()}
        self.renamed = {
            old.lower(): self.by_name[new.lower()] for old, new in world.github_renamed.items()
        }
        self.users_by_login = {user["login"].lower(): user for user in world.github_users.values()}
        self.simple_users = {
            user_id: to_simple(user) for user_id, user in world.github_users.items()
        }
