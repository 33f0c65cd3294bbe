"""The GitHub part of the seeded world: it leaves X, Stack Overflow and the CRM untouched, is
deterministic, has the promised sizes and activity after the anchor, and a truthful ground
truth whose evidence (company "@org", blog, email, twitter_username) never points elsewhere."""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

import pytest

from devsignal_pipelines.sandbox.crm import normalized_name
from devsignal_pipelines.sandbox.github.index import GitHubIndex
from devsignal_pipelines.sandbox.github.people import company_org_login
from devsignal_pipelines.sandbox.world import World, generate_world
from tests.sandbox.test_stackoverflow_world import X_WORLD_HASHES, so_json, x_world_hash

ANCHOR = datetime(2025, 3, 1, tzinfo=UTC)
ANCHOR_TS = "2025-03-01T00:00:00Z"
END_TS = "2025-03-02T00:00:00Z"
# sha256 of so_json(generate_world(seed, scale, anchor=ANCHOR)), recorded before GitHub was
# added to the world: adding it must not move a byte of Stack Overflow either.
SO_WORLD_HASHES = {
    (7, 1.0): "1bfec3908831c6fee5ce49b7bf7b91b631978a23350d5044cde31fc9e1929108",
    (3, 0.5): "dd4dfc45ff10ad66015c1fff7a5491cdc1d2d1cee0303566c2a396dc9e89057f",
}


def github_json(world: World) -> str:
    parts = {
        name: getattr(world, name)
        for name in (
            "github_repos",
            "github_renamed",
            "github_missing",
            "github_repositories",
            "github_users",
            "github_members",
            "github_stargazers",
            "github_forks",
            "github_issues",
            "github_issue_comments",
            "github_review_comments",
            "github_edits",
        )
    }
    parts["github_truth"] = {k: asdict(v) for k, v in world.github_truth.items()}
    parts["github_identities"] = [asdict(i) for i in world.github_identities]
    return json.dumps(parts, sort_keys=True)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(seed=7, anchor=ANCHOR)


@pytest.fixture(scope="module")
def other_world() -> World:
    return generate_world(seed=3, scale=0.5, anchor=ANCHOR)


def test_github_leaves_x_stack_overflow_and_the_crm_byte_identical(
    world: World, other_world: World
) -> None:
    for (seed, scale), generated in (((7, 1.0), world), ((3, 0.5), other_world)):
        assert x_world_hash(generated) == X_WORLD_HASHES[(seed, scale)]
        assert digest(so_json(generated)) == SO_WORLD_HASHES[(seed, scale)]
        assert generated.github_issues  # and GitHub is there


def test_same_seed_same_github_and_another_seed_another(world: World, other_world: World) -> None:
    assert digest(github_json(generate_world(seed=7, anchor=ANCHOR))) == digest(github_json(world))
    assert digest(github_json(other_world)) != digest(github_json(world))


def test_the_anchor_only_moves_github_in_time(world: World) -> None:
    later = generate_world(seed=7, anchor=ANCHOR + timedelta(days=30))
    assert later.github_truth == world.github_truth
    assert later.github_identities == world.github_identities
    assert later.github_users == world.github_users
    for name, issues in world.github_issues.items():
        moved = later.github_issues[name]
        assert [(i["id"], i["number"], i["title"]) for i in moved] == [
            (i["id"], i["number"], i["title"]) for i in issues
        ]
        shift = [
            _seconds(b["created_at"]) - _seconds(a["created_at"])
            for a, b in zip(issues, moved, strict=True)
        ]
        assert set(shift) == {30 * 86_400}


def test_tracked_repositories_include_a_renamed_and_a_private_one(world: World) -> None:
    assert world.github_repos == {
        "acme": ["acme/acmedb", "acme/acmedb-python", "acme/acmedb-cloud"],
        "nimbus": ["nimbus/nimbusdeploy", "nimbus/deploy-cli", "nimbus/nimbus-infra"],
        "quill": ["quill/quillpad", "quill/react-quillpad", "quill/quillpad-pro"],
    }
    assert world.github_renamed == {
        "acme/acmedb-python": "acme/acmedb-py",
        "nimbus/deploy-cli": "nimbus/nimbus-cli",
        "quill/react-quillpad": "quill/quillpad-react",
    }
    assert world.github_missing == [
        "acme/acmedb-cloud",
        "nimbus/nimbus-infra",
        "quill/quillpad-pro",
    ]
    assert set(world.github_repositories) == {
        name for names in world.github_repos.values() for name in names[:1]
    } | set(world.github_renamed.values())
    # The product's repository is the one the organization's github_star product events name.
    starred = {
        s.properties["repo"] for s in world.product_signals if s.signal_type == "github_star"
    }
    assert starred == {names[0] for names in world.github_repos.values()}


def test_sizes_at_scale_one(world: World) -> None:
    for name in world.github_repositories:
        stars = world.github_stargazers[name]
        issues = world.github_issues[name]
        pulls = [i for i in issues if "pull_request" in i]
        assert 200 <= len(stars) <= 460, name  # 200-400 drawn, plus the people who must star
        assert len({s["user_id"] for s in stars}) == len(stars)  # one star per person
        assert 30 <= len(world.github_forks[name]) <= 60
        assert 80 <= len(issues) <= 150
        assert 0.25 <= len(pulls) / len(issues) <= 0.55
        assert 200 <= len(world.github_issue_comments[name]) <= 400
        assert 50 <= len(world.github_review_comments[name]) <= 100
        after = [s for s in stars if s["starred_at"] > ANCHOR_TS]
        assert 0 < len(after) < 0.1 * len(stars)
        assert all(s["starred_at"] <= END_TS for s in stars)
        assert min(s["starred_at"] for s in stars) >= "2024-03-01T00:00:00Z"
        assert [s["starred_at"] for s in stars] == sorted(s["starred_at"] for s in stars)


def test_people_sizes(world: World) -> None:
    truths = list(world.github_truth.values())
    kinds = Counter(u["type"] for u in world.github_users.values())
    assert kinds["Bot"] == 3 and kinds["Organization"] == 3 + len(world.companies)
    assert 900 <= kinds["User"] <= 1300
    assert sum(1 for t in truths if t.contact_id) > 60
    assert sum(1 for t in truths if t.contact_id and t.twitter_user_id) > 30


def test_truth_is_consistent_with_the_crm_and_x(world: World) -> None:
    assert set(world.github_truth) == set(world.github_users)
    contacts = {c.id: c for c in world.contacts}
    companies = {c.id: c for c in world.companies}
    x_of_contact = {t.contact_id: t.user_id for t in world.twitter_truth.values() if t.contact_id}
    for truth in world.github_truth.values():
        user = world.github_users[truth.user_id]
        assert user["id"] == truth.user_id
        if truth.contact_id is not None:
            contact = contacts[truth.contact_id]
            assert (contact.organization_id, contact.company_id) == (
                truth.organization_id,
                truth.company_id,
            )
            assert truth.twitter_user_id == x_of_contact.get(truth.contact_id)
        if truth.company_id is not None:
            assert companies[truth.company_id].organization_id == truth.organization_id
        if user["twitter_username"] is not None:
            # whoever shows a handle shows their own: the truth's X account, by its current name
            assert truth.twitter_user_id is not None
            assert (
                world.twitter_users[truth.twitter_user_id]["username"] == user["twitter_username"]
            )
    for identity in world.github_identities:
        assert identity.platform == "github"
        truth = world.github_truth[int(identity.platform_user_id)]
        assert truth.contact_id == identity.contact_id
        assert contacts[identity.contact_id].organization_id == identity.organization_id


def test_some_known_accounts_were_renamed_and_one_old_login_was_taken(world: World) -> None:
    logins = {u["login"].lower(): uid for uid, u in world.github_users.items()}
    renamed = [
        i
        for i in world.github_identities
        if world.github_users[int(i.platform_user_id)]["login"] != i.username
    ]
    assert 1 <= len(renamed) <= 0.4 * len(world.github_identities)
    recycled = [i for i in renamed if i.username.lower() in logins]
    assert len(recycled) == 1
    assert world.github_truth[logins[recycled[0].username.lower()]].contact_id is None


def test_profile_evidence_never_points_at_someone_else(world: World) -> None:
    """company "@org", blog and email on a CRM company, a CRM email: all name the truth."""
    by_org_login = {company_org_login(c): c for c in world.companies}
    by_domain = {c.domain: c for c in world.companies}
    crm_email = {c.email: c for c in world.contacts}
    at_company = email_matches = blog_matches = 0
    for user_id, user in world.github_users.items():
        truth = world.github_truth[user_id]
        company = user["company"] or ""
        if user["type"] == "User" and company.startswith("@") and company[1:] in by_org_login:
            at_company += 1
            assert truth.company_id == by_org_login[company[1:]].id
        host = (urlparse(user["blog"]).hostname or "").removeprefix("www.").removeprefix("blog.")
        if user["type"] == "User" and host in by_domain:
            blog_matches += 1
            assert truth.company_id == by_domain[host].id
        if user["email"] in crm_email:
            email_matches += 1
            assert truth.contact_id == crm_email[user["email"]].id
    assert (at_company > 20, blog_matches > 10, email_matches > 5) == (True, True, True)


def test_company_organizations_let_a_resolver_learn_the_at_convention(world: World) -> None:
    organizations = {
        u["login"]: u for u in world.github_users.values() if u["type"] == "Organization"
    }
    for company in world.companies:
        account = organizations[company_org_login(company)]
        assert account["name"] == company.name
        assert account["blog"] == f"https://{company.domain}"
        truth = world.github_truth[account["id"]]
        assert (truth.organization_id, truth.contact_id, truth.company_id) == (
            company.organization_id,
            None,
            company.id,
        )
    for org in world.organizations:
        assert organizations[org.id]["name"] == org.name  # the owner of its repositories


def test_the_mix_of_accounts(world: World) -> None:
    users, truths = world.github_users, world.github_truth
    bots = [u for u in users.values() if u["type"] == "Bot"]
    assert {b["login"] for b in bots} == {"dependabot[bot]", "github-actions[bot]", "renovate[bot]"}
    assert all(truths[b["id"]].organization_id is None for b in bots)
    assert "ghost" in {u["login"] for u in users.values()}
    # namesakes: the name of two contacts of one organization, nothing else, nobody
    per_org: dict[str, Counter[str]] = defaultdict(Counter)
    for contact in world.contacts:
        per_org[contact.organization_id][normalized_name(contact.full_name)] += 1
    ambiguous = {name for names in per_org.values() for name, n in names.items() if n > 1}
    namesakes = [
        u
        for u in users.values()
        if u["name"]
        and normalized_name(u["name"]) in ambiguous
        and truths[u["id"]].contact_id is None
    ]
    assert namesakes
    assert all(u["blog"] == "" and u["company"] is None for u in namesakes)
    # employees and outsiders: a CRM company, no contact, of this and of other organizations
    workers = [
        t
        for t in truths.values()
        if t.company_id and not t.contact_id and users[t.user_id]["type"] == "User"
    ]
    assert len(workers) >= 20
    # developers on X with the same handle, and plenty of strangers
    assert sum(1 for t in truths.values() if t.twitter_user_id and not t.contact_id) >= 10
    assert sum(1 for t in truths.values() if t.organization_id is None) > 800
    blogs = [urlparse(u["blog"]).hostname or "" for u in users.values()]
    assert any(b.endswith(".github.io") for b in blogs) and "" in blogs


def test_members_are_the_organizations_own_staff(world: World) -> None:
    logins = {u["login"]: u for u in world.github_users.values()}
    for org in world.organizations:
        members = world.github_members[org.id]
        assert len(members) == 5
        for login in members:
            truth = world.github_truth[logins[login]["id"]]
            assert (truth.organization_id, truth.contact_id, truth.company_id) == (None, None, None)
        associations = {
            i["author_association"]
            for name in world.github_repositories
            if name.startswith(f"{org.id}/")
            for i in world.github_issues[name]
            if i["user"]["login"] in members
        }
        assert associations <= {"OWNER", "MEMBER"} and "MEMBER" in associations


def test_issues_pull_requests_and_comments_agree(world: World) -> None:
    for name, issues in world.github_issues.items():
        comments = Counter(c["issue_url"] for c in world.github_issue_comments[name])
        numbers = [i["number"] for i in issues]
        assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
        created = [i["created_at"] for i in issues]
        assert created == sorted(created)  # numbers grow with time
        for issue in issues:
            assert issue["comments"] == comments[issue["url"]]
            assert issue["created_at"] <= issue["updated_at"] <= END_TS
            assert (issue["state"] == "closed") == (issue["closed_at"] is not None)
            if issue["closed_at"]:
                assert issue["closed_at"] <= issue["updated_at"]
            if "pull_request" in issue:
                assert issue["html_url"].endswith(f"/pull/{issue['number']}")
                merged = issue["pull_request"]["merged_at"]
                assert merged is None or merged == issue["closed_at"]
                assert issue["state_reason"] is None
            else:
                assert "draft" not in issue
        bots = [i for i in issues if i["user"]["type"] == "Bot"]
        assert bots and all("pull_request" in i for i in bots)
        ids = [i["id"] for i in sorted(issues, key=lambda i: i["created_at"])]
        assert ids == sorted(ids)
    all_comments = [c for cs in world.github_issue_comments.values() for c in cs]
    ids = [c["id"] for c in sorted(all_comments, key=lambda c: (c["created_at"], c["id"]))]
    assert ids == sorted(ids)  # comment ids grow with time over the whole world


def test_recent_comments_reach_old_issues_and_edits_move_updated_at(world: World) -> None:
    late_on_old = 0
    for name, comments in world.github_issue_comments.items():
        created = {i["url"]: i["created_at"] for i in world.github_issues[name]}
        late_on_old += sum(
            1
            for c in comments
            if c["created_at"] >= "2025-02-22T00:00:00Z"
            and created[c["issue_url"]] < "2025-01-30T00:00:00Z"
        )
        edited = [c for c in comments if c["updated_at"] > c["created_at"]]
        assert edited
        assert all(world.github_edits[c["node_id"]][-1] == c["updated_at"] for c in edited)
    assert late_on_old > 60


def test_the_index_at_the_end_of_the_world_is_the_world(world: World) -> None:
    index = GitHubIndex(world)
    for name, repo in index.repositories.items():
        assert repo.repository(END_TS) == world.github_repositories[name]
        assert repo.issues(END_TS) == world.github_issues[name]
        assert repo.issue_comments(END_TS) == world.github_issue_comments[name]
        assert repo.review_comments(END_TS) == world.github_review_comments[name]
        assert len(repo.stargazers(END_TS)) == len(world.github_stargazers[name])
        at_anchor = repo.issues(ANCHOR_TS)
        assert len(at_anchor) < len(world.github_issues[name])
        assert all(i["updated_at"] <= ANCHOR_TS for i in at_anchor)


def test_github_scale_zero_keeps_people_and_drops_activity() -> None:
    quiet = generate_world(
        seed=7, scale=0.2, anchor=ANCHOR, tweets=0, so_questions=0, github_scale=0
    )
    assert quiet.github_users and quiet.github_repositories
    assert not any(quiet.github_stargazers.values()) and not any(quiet.github_issues.values())


def _seconds(stamp: str) -> int:
    return int(datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())
