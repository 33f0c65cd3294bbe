"""GitHub REST API v3 objects, built with exactly the keys of the recorded ones in shared/fixtures.

Shapes (keys, nesting, which URLs are templates) are copied from
/work/shared/fixtures/github: the full user of ``user_profile.json`` (2023), the simple user,
issue, pull-request and label of ``issues_with_pull_requests.json`` (2024), the repository of
``sequential_pagination_releases.json`` (2022), the review comment of
``pull_review_comments.json`` (2023); the issue comment's modern keys follow GitHub's OpenAPI
description (the recorded ones are from 2012 and lack ``node_id``, ``html_url``, ...).

Every URL in a body is a real ``https://api.github.com`` / ``https://github.com`` URL, as GitHub
sends it, never the sandbox's host: a connector stores bodies, and a port that changes with
every run must not make its tables differ. Only ``Link`` and ``Location`` headers point at the
sandbox (``responses``). Times are ``YYYY-MM-DDTHH:MM:SSZ`` in UTC, so they sort as strings.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

API = "https://api.github.com"
WEB = "https://github.com"
REACTIONS = ("+1", "-1", "laugh", "hooray", "confused", "heart", "rocket", "eyes")


def timestamp(epoch_s: int) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def node_id(kind: str, number: int) -> str:
    """GitHub's legacy global node id: base64 of ``0<len(kind)>:<kind><id>``."""
    return base64.b64encode(f"0{len(kind)}:{kind}{number}".encode()).decode()


def full_user(
    user_id: int,
    login: str,
    kind: str,
    profile: dict,
    counts: tuple[int, int, int, int],
    created_at: str,
    updated_at: str,
) -> dict:
    """GET /users/{login}: the simple user plus the profile (``name`` ... ``twitter_username``).

    ``kind`` is "User", "Organization" or "Bot"; ``counts`` are public repos, public gists,
    followers and following.
    """
    public_repos, public_gists, followers, following = counts
    user = simple_user(user_id, login, kind)
    for key in ("name", "company", "blog", "location", "email", "hireable", "bio"):
        user[key] = profile.get(key)
    user["twitter_username"] = profile.get("twitter_username")
    user |= {
        "public_repos": public_repos,
        "public_gists": public_gists,
        "followers": followers,
        "following": following,
        "created_at": created_at,
        "updated_at": updated_at,
    }
    return user


def simple_user(user_id: int, login: str, kind: str) -> dict:
    """The user as it is embedded in stargazers, issues, comments and repository owners."""
    url = f"{API}/users/{login}"
    html = f"{WEB}/apps/{login.removesuffix('[bot]')}" if kind == "Bot" else f"{WEB}/{login}"
    return {
        "login": login,
        "id": user_id,
        "node_id": node_id(kind, user_id),
        "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}?v=4",
        "gravatar_id": "",
        "url": url,
        "html_url": html,
        "followers_url": f"{url}/followers",
        "following_url": f"{url}/following{{/other_user}}",
        "gists_url": f"{url}/gists{{/gist_id}}",
        "starred_url": f"{url}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{url}/subscriptions",
        "organizations_url": f"{url}/orgs",
        "repos_url": f"{url}/repos",
        "events_url": f"{url}/events{{/privacy}}",
        "received_events_url": f"{url}/received_events",
        "type": kind,
        "site_admin": False,
    }


def to_simple(user: dict) -> dict:
    """The simple user of a full user object."""
    return simple_user(user["id"], user["login"], user["type"])


def repository(
    repo_id: int,
    owner: dict,
    name: str,
    description: str | None,
    language: str | None,
    times: tuple[str, str, str],
    counts: tuple[int, int, int],
    fork: bool,
    topics: list[str],
) -> dict:
    """A repository as listed (forks): every key of GET /repos/{owner}/{repo} except the ones
    only that endpoint has (``organization``, ``network_count``, ``subscribers_count``,
    ``temp_clone_token``) and ``permissions``, which the API adds for authenticated callers.

    ``times`` are created, updated and pushed; ``counts`` stargazers, forks and open issues.
    """
    full_name = f"{owner['login']}/{name}"
    url = f"{API}/repos/{full_name}"
    html = f"{WEB}/{full_name}"
    created_at, updated_at, pushed_at = times
    stars, forks, open_issues = counts
    return {
        "id": repo_id,
        "node_id": node_id("Repository", repo_id),
        "name": name,
        "full_name": full_name,
        "private": False,
        "owner": owner,
        "html_url": html,
        "description": description,
        "fork": fork,
        "url": url,
        "forks_url": f"{url}/forks",
        "keys_url": f"{url}/keys{{/key_id}}",
        "collaborators_url": f"{url}/collaborators{{/collaborator}}",
        "teams_url": f"{url}/teams",
        "hooks_url": f"{url}/hooks",
        "issue_events_url": f"{url}/issues/events{{/number}}",
        "events_url": f"{url}/events",
        "assignees_url": f"{url}/assignees{{/user}}",
        "branches_url": f"{url}/branches{{/branch}}",
        "tags_url": f"{url}/tags",
        "blobs_url": f"{url}/git/blobs{{/sha}}",
        "git_tags_url": f"{url}/git/tags{{/sha}}",
        "git_refs_url": f"{url}/git/refs{{/sha}}",
        "trees_url": f"{url}/git/trees{{/sha}}",
        "statuses_url": f"{url}/statuses/{{sha}}",
        "languages_url": f"{url}/languages",
        "stargazers_url": f"{url}/stargazers",
        "contributors_url": f"{url}/contributors",
        "subscribers_url": f"{url}/subscribers",
        "subscription_url": f"{url}/subscription",
        "commits_url": f"{url}/commits{{/sha}}",
        "git_commits_url": f"{url}/git/commits{{/sha}}",
        "comments_url": f"{url}/comments{{/number}}",
        "issue_comment_url": f"{url}/issues/comments{{/number}}",
        "contents_url": f"{url}/contents/{{+path}}",
        "compare_url": f"{url}/compare/{{base}}...{{head}}",
        "merges_url": f"{url}/merges",
        "archive_url": f"{url}/{{archive_format}}{{/ref}}",
        "downloads_url": f"{url}/downloads",
        "issues_url": f"{url}/issues{{/number}}",
        "pulls_url": f"{url}/pulls{{/number}}",
        "milestones_url": f"{url}/milestones{{/number}}",
        "notifications_url": f"{url}/notifications{{?since,all,participating}}",
        "labels_url": f"{url}/labels{{/name}}",
        "releases_url": f"{url}/releases{{/id}}",
        "deployments_url": f"{url}/deployments",
        "created_at": created_at,
        "updated_at": updated_at,
        "pushed_at": pushed_at,
        "git_url": f"git://github.com/{full_name}.git",
        "ssh_url": f"git@github.com:{full_name}.git",
        "clone_url": f"{html}.git",
        "svn_url": html,
        "homepage": None,
        "size": 0,
        "stargazers_count": stars,
        "watchers_count": stars,
        "language": language,
        "has_issues": not fork,
        "has_projects": True,
        "has_downloads": True,
        "has_wiki": not fork,
        "has_pages": False,
        "forks_count": forks,
        "mirror_url": None,
        "archived": False,
        "disabled": False,
        "open_issues_count": open_issues,
        "license": None,
        "allow_forking": True,
        "is_template": False,
        "topics": topics,
        "visibility": "public",
        "forks": forks,
        "open_issues": open_issues,
        "watchers": stars,
        "default_branch": "main",
    }


MIT_LICENSE = {
    "key": "mit",
    "name": "MIT License",
    "spdx_id": "MIT",
    "url": f"{API}/licenses/mit",
    "node_id": "MDc6TGljZW5zZTEz",
}
APACHE_LICENSE = {
    "key": "apache-2.0",
    "name": "Apache License 2.0",
    "spdx_id": "Apache-2.0",
    "url": f"{API}/licenses/apache-2.0",
    "node_id": "MDc6TGljZW5zZTI=",
}


def label(label_id: int, full_name: str, name: str, color: str, description: str, default: bool):
    return {
        "id": label_id,
        "node_id": node_id("Label", label_id),
        "url": f"{API}/repos/{full_name}/labels/{name.replace(' ', '%20')}",
        "name": name,
        "color": color,
        "default": default,
        "description": description or None,
    }


def reactions(url: str, counts: dict[str, int]) -> dict:
    rollup: dict = {"url": f"{url}/reactions", "total_count": sum(counts.values())}
    for key in REACTIONS:
        rollup[key] = counts.get(key, 0)
    return rollup
