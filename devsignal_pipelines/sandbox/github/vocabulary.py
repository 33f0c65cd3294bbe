"""Static word lists and fixed facts for the GitHub part of a sandbox world.

Apart from ``vocabulary`` (X and CRM) and ``stackexchange.vocabulary`` for the same reason as
the latter: these lists are only read after X and Stack Overflow exist, so changing them can
never move anything generated before GitHub.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RepoPlan:
    """The repositories of one organization's GitHub account (its login is the organization id).

    ``main`` is the product's repository, named like the ``repo`` property of the organization's
    ``github_star`` product events (``acme/acmedb``). ``second`` is tracked under ``renamed_from``
    and was renamed since, so its old name answers 301. ``private`` is tracked but private: 404.
    """

    main: str
    main_language: str
    second: str
    second_language: str
    renamed_from: str
    private: str
    domain: str  # the organization's own web domain (its members' blogs and emails)


REPO_PLANS: dict[str, RepoPlan] = {
    "acme": RepoPlan("acmedb", "Go", "acmedb-py", "Python", "acmedb-python", "acmedb-cloud",
                     "acmedata.dev"),
    "nimbus": RepoPlan("nimbusdeploy", "TypeScript", "nimbus-cli", "Go", "deploy-cli",
                       "nimbus-infra", "nimbuslabs.io"),
    "quill": RepoPlan("quillpad", "TypeScript", "quillpad-react", "TypeScript", "react-quillpad",
                      "quillpad-pro", "quill.so"),
}  # fmt: skip

# Real GitHub Apps' bot accounts, with their real (public) ids.
BOTS: tuple[tuple[str, int], ...] = (
    ("dependabot[bot]", 49699333),
    ("github-actions[bot]", 41898282),
    ("renovate[bot]", 29139614),
)
# Deleted accounts show as GitHub's placeholder user "ghost" (real id 10137).
GHOST = ("ghost", 10137)

LABELS: tuple[tuple[str, str, str, bool], ...] = (
    # name, color, description, GitHub's default label
    ("bug", "d73a4a", "Something isn't working", True),
    ("enhancement", "a2eeef", "New feature or request", True),
    ("question", "d876e3", "Further information is requested", True),
    ("documentation", "0075ca", "Improvements or additions to documentation", True),
    ("good first issue", "7057ff", "Good for newcomers", True),
    ("dependencies", "0366d6", "Pull requests that update a dependency file", False),
    ("performance", "fbca04", "", False),
)
ISSUE_LABELS = ("bug", "enhancement", "question", "documentation", "good first issue",
                "performance")  # fmt: skip

# {f} is a feature of the organization's product (vocabulary.FEATURES), {p} the product.
ISSUE_TITLES: tuple[str, ...] = (
    '{f} fails with "connection refused" behind a proxy',
    "Crash when using {f} on Windows",
    "Feature request: {f} for monorepos",
    "Docs: {f} example is out of date",
    "{f} is much slower since the last release",
    "How do I configure {f} with {p} in Kubernetes?",
    "Unexpected error in {f}: panic: runtime error",
    "Support {f} in the CLI",
    "[{p}] {f} ignores the config file",
)
PR_TITLES: tuple[str, ...] = (
    "Fix {f} when the config file is missing",
    "Add {f} support to the CLI",
    "docs: clarify {f} setup",
    "perf: speed up {f}",
    "Refactor {f} internals",
    "test: cover {f} edge cases",
    "feat: {f} for {p}",
)
BUMPS: tuple[tuple[str, str, str], ...] = (
    ("golang.org/x/net", "0.23.0", "0.33.0"),
    ("actions/checkout", "3", "4"),
    ("eslint", "8.57.0", "9.9.1"),
    ("typescript", "5.4.5", "5.6.2"),
    ("pytest", "8.2.0", "8.3.3"),
    ("ruff", "0.5.0", "0.6.9"),
    ("vite", "5.2.11", "5.4.8"),
)
ISSUE_BODIES: tuple[str, ...] = (
    "### Steps to reproduce\n\n1. Install {p}\n2. Enable {f}\n3. Run the CLI\n\n"
    "### Expected\n\nIt works.\n\n### Actual\n\nIt fails with an error.",
    "We are evaluating {p} at work and {f} is the one thing blocking us. Any plans?",
    "Is there a way to use {f} without a config file? The docs only show the YAML form.",
    "After upgrading, {f} takes ~10x longer on our CI runners.",
)
PR_BODIES: tuple[str, ...] = (
    "Fixes the issue with {f}. Added a test.",
    "This adds {f}. Happy to split it up if it is too big.",
    "Small docs fix for {f}.",
    "Closes #{n}",
)
COMMENT_BODIES: tuple[str, ...] = (
    "Thanks for the report! Can you share the output of `{cli} --version`?",
    "I can reproduce this on the latest release.",
    "+1, we hit the same thing with {f}.",
    "Fixed in the latest release, please try again.",
    "Any update on this? It blocks our rollout of {p}.",
    "Workaround: disable {f} for now and it works.",
    "LGTM, thanks!",
    "Could you add a test for this?",
    "Closing as duplicate.",
    "We use {p} in production and {f} would help a lot.",
)
REVIEW_BODIES: tuple[str, ...] = (
    "nit: this could be a constant",
    "Can we add a test for this branch?",
    "Should this handle the empty case?",
    "Good catch.",
    "I think this changes the public API, let's keep the old name as an alias.",
    "Please use the existing helper here.",
)
SOURCE_PATHS: dict[str, tuple[str, ...]] = {
    "Go": ("cmd/cli/main.go", "internal/config/config.go", "pkg/client/client.go",
           "internal/server/handler.go"),
    "Python": ("src/client/__init__.py", "src/client/session.py", "tests/test_session.py",
               "pyproject.toml"),
    "TypeScript": ("src/index.ts", "src/editor/commands.ts", "src/cli/deploy.ts",
                   "test/commands.test.ts"),
}  # fmt: skip

# Employers people write in `company` that are in nobody's CRM.
OTHER_EMPLOYERS: tuple[str, ...] = (
    "Freelance", "Self-employed", "@opensource-guild", "Open source", "@hashbang-coop",
    "Student", "@tinyfactory", "Indie hacker",
)  # fmt: skip
# Suffixes people add to their employer's name in `company`.
COMPANY_NAME_FORMS: tuple[str, ...] = ("{n}", "{n}", "{n} Inc.", "{n}, Inc", "{n} GmbH")
BIOS: tuple[str, ...] = (
    "Backend engineer. Go, Postgres, k8s.",
    "Building developer tools.",
    "Open source enthusiast",
    "SRE by day, synths by night",
    "TypeScript all the things",
    "Data engineer",
    "Rustacean",
)
# Personal sites that are nobody's employer (free hosting, or GitHub itself).
PERSONAL_SITES: tuple[str, ...] = (
    "https://{u}.github.io",
    "https://{u}.github.io",
    "https://{u}.dev",
    "https://{u}.me",
    "https://{u}.netlify.app",
    "https://dev.to/{u}",
)
# Logins people pick when they do not use their name.
HANDLE_WORDS: tuple[str, ...] = (
    "nullpointer", "bytesmith", "octo", "codemonk", "devnull", "segfault", "lambda", "bitflip",
    "heapdump", "kernelpanic", "regexwizard", "tabsnotspaces", "yakshaver", "rubberduck",
)  # fmt: skip
