"""Static word lists for the Stack Overflow part of a sandbox world.

Apart from ``vocabulary`` (the X and CRM words) so that the Stack Overflow generators can change
their words without anyone wondering whether the X world moved: it cannot, these lists are only
read after the X data exists.
"""

from __future__ import annotations

# Tags that go with each organization's own tags on its questions.
COMPANION_TAGS: dict[str, tuple[str, ...]] = {
    "acme": ("postgresql", "sql", "python", "node.js", "typescript", "prisma"),
    "nimbus": ("docker", "kubernetes", "github-actions", "node.js", "next.js", "ci-cd"),
    "quill": ("reactjs", "javascript", "typescript", "markdown", "prosemirror"),
}

# Questions about nothing the organizations track. Some tags are near misses of product names
# ("acme" is the certificate protocol, "quill" the Quill.js editor, "nimbus" a Java look and feel)
# and must not be mistaken for an organization's tags.
NOISE_QUESTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("How to merge two dictionaries in a single expression?", ("python", "dictionary")),
    ("Why is my React state not updating after setState?", ("reactjs", "react-hooks")),
    ("Docker container exits immediately after start", ("docker",)),
    ("PostgreSQL does not use my index for a LIKE query", ("postgresql", "indexing")),
    ("git rebase vs merge for long-lived feature branches", ("git",)),
    ("certbot ACME challenge fails behind nginx", ("acme", "lets-encrypt", "nginx")),
    ("Quill.js: how to add a custom toolbar button?", ("quill", "javascript")),
    ("Nimbus look and feel ignores my UIManager defaults", ("java", "swing", "nimbus")),
    ("Kubernetes pod stuck in CrashLoopBackOff", ("kubernetes",)),
    (
        "TypeScript: type &#39;string&#39; is not assignable to type &#39;never&#39;",
        ("typescript",),
    ),
)

# Titles come HTML-encoded from the real API (&#39; &quot; &amp;): connectors must unescape them.
# {p} is the product, {f} one of its features (vocabulary.FEATURES), {v} a version.
TITLE_TEMPLATES: tuple[str, ...] = (
    "How do I configure {f} in {p}?",
    "{p}: {f} fails with &quot;connection refused&quot;",
    "Why does {f} in {p} time out on large projects?",
    "{p} {f} not working after upgrading to {v}",
    "Can&#39;t get {f} to work in {p} behind a proxy",
    "Error when running {f} with {p} in Docker",
    "Is {f} in {p} safe to use in production?",
    "{p}: how to roll back {f}?",
    "Best way to test {f} with {p} in CI",
    "{p} {v}: {f} behaves differently locally and in staging",
)
VERSIONS: tuple[str, ...] = ("v2", "2.3", "3.0", "3.1.4", "v4 beta")

# Display names Stack Overflow users pick when they do not show their real name.
HANDLE_WORDS: tuple[str, ...] = (
    "nullpointer", "bytesmith", "stackjockey", "codemonk", "devnull", "segfault", "lambda",
    "bitflip", "heapdump", "kernelpanic", "regexwizard", "tabsnotspaces",
)  # fmt: skip

# Personal websites that are NOT anyone's employer: free hosting and writing platforms.
FREE_WEBSITES: tuple[str, ...] = (
    "https://{u}.github.io",
    "https://github.com/{u}",
    "https://{u}.vercel.app",
    "https://{u}.netlify.app",
    "https://{u}.herokuapp.com",
    "https://medium.com/@{u}",
    "https://dev.to/{u}",
)
PERSONAL_TLDS: tuple[str, ...] = (".me", ".xyz", ".sh", ".name")
