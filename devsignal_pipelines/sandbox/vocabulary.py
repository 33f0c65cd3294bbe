"""Static word lists the world generator draws from.

Kept apart from the generators so the generation code stays readable and so that changing a
word list is an obvious, reviewable data change (it changes every seeded world).
"""

from __future__ import annotations

from devsignal_pipelines.sandbox.records import Organization

# Stack Overflow tags: acme and nimbus both track the generic "database-migrations" tag.
SHARED_TAG = "database-migrations"
ORGANIZATIONS: tuple[Organization, ...] = (
    Organization(
        "acme",
        "Acme Data",
        "AcmeDB",
        ("acmedb", "acme db"),
        ("acmedb", "acmedb-migrations", SHARED_TAG),
    ),
    Organization(
        "nimbus",
        "Nimbus Labs",
        "Nimbus Deploy",
        ("nimbusdeploy", "nimbus deploy"),
        ("nimbus-deploy", "nimbus-cli", SHARED_TAG),
    ),
    Organization(
        "quill",
        "Quill Software",
        "Quillpad",
        ("quillpad", "quill editor"),
        ("quillpad", "quillpad-react"),
    ),
)

# How each product is written in tweets: varied case, mentions, hashtags, punctuation.
# Every variant matches one of the organization's keywords as a whole word or phrase.
PRODUCT_SPELLINGS: dict[str, tuple[str, ...]] = {
    "acme": ("AcmeDB", "acmedb", "ACMEDB", "Acme DB", "acme db", "@acmedb", "#acmedb", "AcmeDB:"),
    "nimbus": (
        "Nimbus Deploy",
        "nimbus deploy",
        "NimbusDeploy",
        "nimbusdeploy",
        "@nimbusdeploy",
        "NIMBUS DEPLOY",
        "#nimbusdeploy",
    ),
    "quill": ("Quillpad", "quillpad", "QuillPad", "@quillpad", "Quill editor", "quill editor"),
}

# Near misses: look like a product name but must NOT match the organization's keywords.
NEAR_MISSES: dict[str, tuple[str, ...]] = {
    "acme": ("Acme", "ACME Corp", "acmedbx", "acme-dbx", "Acme databases"),
    "nimbus": ("Nimbus", "nimbus clouds", "NimbusDeployer", "deploying nimbus"),
    "quill": ("quill pen", "Quillpads", "quill-editors", "a quill and ink"),
}

FEATURES: dict[str, tuple[str, ...]] = {
    "acme": (
        "migrations",
        "query planning",
        "read replicas",
        "branching",
        "the CLI",
        "connection pooling",
        "point-in-time restore",
    ),
    "nimbus": (
        "preview deploys",
        "rollbacks",
        "build caching",
        "edge functions",
        "the CLI",
        "env var sync",
        "log streaming",
    ),
    "quill": (
        "collaborative editing",
        "tables",
        "markdown export",
        "the React bindings",
        "undo history",
        "inline comments",
    ),
}

# Templates take {p} (a product spelling) and {f} (a feature of that product).
TEMPLATES: dict[str, tuple[str, ...]] = {
    "question": (
        "How do I configure {f} in {p}?",
        "Anyone got {f} working with {p} on Kubernetes?",
        "Is {f} in {p} production ready yet?",
        "What's the best way to debug {f} in {p}? Docs aren't clear",
        "Quick question for {p} folks: does {f} work behind a proxy?",
    ),
    "complaint": (
        "{p} keeps crashing when I use {f}, so frustrating",
        "ugh, {f} in {p} broke again after the upgrade",
        "{f} in {p} is painfully slow today. anyone else?",
        "Wasted 3 hours on {f} in {p}. Not happy.",
        "Why is {f} in {p} so hard to get right",
    ),
    "praise": (
        "loving {p}, {f} is so fast",
        "{f} in {p} just saved my weekend 🙌",
        "Honestly {p} is the best thing that happened to our stack this year",
        "Shoutout to the {p} team, {f} works beautifully",
        "Switched to {p} last month and {f} alone was worth it",
    ),
    "neutral": (
        "Reading the {p} release notes",
        "Trying out {p} for a side project this weekend",
        "Our team is evaluating {p} and its {f}",
        "Notes from the {p} meetup: lots of talk about {f}",
        "New blog post on {f} in {p}",
    ),
}

# Non-English tweets about a product: (lang, template).
FOREIGN_TEMPLATES: tuple[tuple[str, str], ...] = (
    ("es", "¿Alguien usa {p} en producción? {f} me está dando problemas"),
    ("de", "{p} ist echt schnell, {f} gefällt mir"),
    ("fr", "Je teste {p} ce week-end, {f} a l'air prometteur"),
    ("pt", "Alguém sabe configurar {f} no {p}?"),
)

# Two products in one tweet: {p} and {q}.
COMPARISON_TEMPLATES: tuple[str, ...] = (
    "Comparing {p} and {q} for our new service",
    "{p} + {q} is my favourite combo right now",
    "Moved from {q} to {p}, no regrets so far",
)

# Tweets that mention no product; {n} is a near miss of some product.
NOISE_TEMPLATES: tuple[str, ...] = (
    "Spent all day fighting my webpack config",
    "Postgres release notes are a great read",
    "Coffee, then code review, then more coffee",
    "Hot take: tabs are fine",
    "Wile E. Coyote ordered another {n} rocket",
    "Found an old {n} t-shirt in the closet",
    "Is anyone else's CI queue stuck this morning?",
    "Shipping a small fix before the weekend",
)

REPLY_TEMPLATES: tuple[str, ...] = (
    "same here, {f} in {p} bit us too",
    "have you tried the {p} discord? they helped me with {f}",
    "+1, {f} in {p} is great",
    "we hit this with {p} as well, fixed by upgrading",
)

FIRST_NAMES: tuple[str, ...] = (
    "Alice", "Aarav", "Amara", "Ben", "Bianca", "Carlos", "Chen", "Chloe", "Daniel", "Dana",
    "Diego", "Elena", "Emeka", "Emma", "Farah", "Felix", "Grace", "Hana", "Hugo", "Ines",
    "Isaac", "Jamal", "Jana", "José", "Julia", "Kai", "Kenji", "Laura", "Leo", "Lina",
    "Lucas", "Maya", "Mei", "Mohammed", "Nadia", "Noah", "Nora", "Olivia", "Omar", "Priya",
    "Rafael", "Rosa", "Sam", "Sara", "Sofia", "Tariq", "Theo", "Uma", "Victor", "Wei",
    "Yara", "Yusuf", "Zoe", "Zoë", "Björn", "Chloé", "Anders", "Fatima", "Lars", "Ravi",
)  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    "Adams", "Ahmed", "Alvarez", "Andersen", "Bauer", "Becker", "Brown", "Castro", "Chen",
    "Costa", "Da Silva", "Dubois", "Evans", "Fischer", "García", "Gupta", "Haddad", "Hansen",
    "Ito", "Jansen", "Johnson", "Kim", "Kowalski", "Kumar", "Larsen", "Lee", "Lopez", "Martin",
    "Meyer", "Müller", "Nakamura", "Nguyen", "Novak", "O'Brien", "Okafor", "Patel", "Petrov",
    "Popescu", "Rossi", "Sato", "Schmidt", "Singh", "Smith", "Suzuki", "Tanaka", "Taylor",
    "Van Dijk", "Wagner", "Walker", "Wang", "Weber", "Williams", "Wójcik", "Yamamoto", "Zhang",
)  # fmt: skip

COMPANY_PREFIXES: tuple[str, ...] = (
    "Bright", "North", "Blue", "Iron", "Swift", "Cedar", "Quantum", "Lumen", "Harbor", "Pixel",
    "Vector", "Summit", "Atlas", "Ember", "Orbit", "Signal", "Cobalt", "Maple", "Nova",
    "Granite", "Tide", "Copper", "Falcon", "Meadow", "Prism", "Stellar", "Birch", "Delta",
)  # fmt: skip

COMPANY_SUFFIXES: tuple[str, ...] = (
    "loop", "stack", "works", "labs", "base", "forge", "grid", "wave", "scale", "hub", "bit",
    "path", "mint", "field", "line", "spark", "ops", "ware",
)  # fmt: skip

COMPANY_TLDS: tuple[str, ...] = (".io", ".dev", ".com", ".com", ".io", ".ai", ".co")

# Team-page paths a contact's X profile may link to on their employer's domain.
COMPANY_URL_PATHS: tuple[str, ...] = ("", "/team", "/about", "/blog", "/careers")

PERSONAL_EMAIL_DOMAINS: tuple[str, ...] = ("gmail.com", "proton.me", "outlook.com", "hey.com")

# Free hosting and writing platforms a developer without a company link may use.
FREE_SITES: tuple[str, ...] = (
    "https://{u}.github.io",
    "https://{u}.vercel.app",
    "https://{u}.netlify.app",
    "https://medium.com/@{u}",
    "https://{u}.substack.com",
    "https://dev.to/{u}",
)

ROLES: tuple[str, ...] = (
    "Staff engineer",
    "Backend dev",
    "SRE",
    "Platform engineer",
    "Frontend engineer",
    "CTO",
    "Eng manager",
    "Data engineer",
    "Developer advocate",
)

INTERESTS: tuple[str, ...] = (
    "Rust", "TypeScript", "Postgres", "k8s", "Go", "Python", "distributed systems", "DX",
    "open source", "coffee", "bouldering", "synths", "cycling", "sourdough",
)  # fmt: skip

LOCATIONS: tuple[str, ...] = (
    "Berlin, Germany", "San Francisco, CA", "London", "Lagos, Nigeria", "Bangalore, India",
    "São Paulo", "Toronto", "Tokyo", "Amsterdam", "Remote", "Austin, TX", "Warsaw, Poland",
    "Stockholm", "Paris", "Singapore", "New York, NY",
)  # fmt: skip

DEAL_STAGES: tuple[str, ...] = ("lead", "qualified", "proposal", "won", "lost")
DEAL_PLANS: tuple[str, ...] = ("Team plan", "Business plan", "Enterprise pilot", "Expansion")
