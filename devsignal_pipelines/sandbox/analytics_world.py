"""Seeded warehouse inputs for the SQL models: core.signals, core.companies, core.contacts, core.deals.

Unlike ``world.py`` (which feeds the sandbox APIs), this writes the warehouse tables directly, fully
vectorized, so it scales to the benchmark (10,000,000 signals over 100,000 accounts in seconds) and
gives the model tests data with known properties:

- ``ORGANIZATIONS`` share the accounts (``ORGANIZATION_SHARES``); every id is unique across them.
- Accounts start at a uniform time in the last ``HISTORY_DAYS`` days before the anchor (so cohorts
  span every week and month of that range); ``CHURN_SHARE`` of them stop after a few weeks, so many
  accounts are quiet in the 30 days before the anchor while others are still active.
- The product funnel ``FUNNEL_STAGES``: ``FUNNEL_SHARE`` of the accounts get a first ``github_star``
  (the entry) and walk on with the probabilities ``FUNNEL_CONTINUE``; each step is done by a random
  contact of the account, a few days after the previous one, except that ``FUNNEL_LATE_SHARE`` of
  the steps come 31-60 days after the entry (outside a 30-day window). Steps that would fall after
  the anchor are not emitted, so recent entrants are still inside their window. No other signal of a
  funnel type comes before the account's own step of that type, so the first-touch funnel is exactly
  the planned walk. Repeat ``api_call`` / ``feature_usage`` events follow the accounts that got there.
- Twitter signals (``twitter_mention | question | complaint | praise``, sentiment positive / negative /
  neutral with a matching score) and Stack Overflow signals (``stackoverflow_question | answer``, no
  sentiment); ``NULL_COMPANY_SHARE`` of them come from contacts without a company (company_id NULL).
- Nothing occurs after the anchor; ``ingested_at`` is ``occurred_at`` plus minutes.
- ``DEAL_ACCOUNT_SHARE`` of the accounts have one to three deals created during their active life
  (some before their first signal), amounts in round hundreds, a few NULL.

Low-cardinality and id columns are pandas categoricals: 10M signals take about the memory of the
frames (~0.5 GB), and the warehouse writers cast them to text.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from devsignal_pipelines.lib.stores.tables import (
    CORE_COMPANIES,
    CORE_CONTACTS,
    CORE_DEALS,
    CORE_SIGNALS,
    TableSpec,
)

ORGANIZATIONS = ("acme", "nimbus", "quill")
ORGANIZATION_SHARES = (0.5, 0.3, 0.2)
HISTORY_DAYS = 180
CHURN_SHARE = 0.35
FUNNEL_STAGES = ("github_star", "docs_view", "signup", "api_call", "feature_usage")
FUNNEL_SHARE = 0.4
FUNNEL_CONTINUE = (0.8, 0.65, 0.6, 0.5)  # P(step k+1 | step k)
FUNNEL_LATE_SHARE = 0.15
FUNNEL_MEAN_GAP_DAYS = 3.0
NULL_COMPANY_SHARE = 0.08
CONTACTS_PER_ACCOUNT = (1, 4)  # inclusive range
UNAFFILIATED_CONTACT_SHARE = 0.2  # extra contacts without a company, as a share of accounts
DEAL_ACCOUNT_SHARE = 0.2
DEAL_STAGES = ("lead", "qualified", "proposal", "won", "lost")
SOURCE_MIX = {"twitter": 0.45, "stackoverflow": 0.2, "product": 0.35}  # of the non-walk signals
TWITTER_TYPES = ("twitter_mention", "twitter_question", "twitter_complaint", "twitter_praise")
TWITTER_TYPE_P = (0.5, 0.2, 0.15, 0.15)
SENTIMENTS = ("positive", "negative", "neutral")
# P(sentiment | twitter type), rows in TWITTER_TYPES order, columns in SENTIMENTS order.
SENTIMENT_P = ((0.3, 0.15, 0.55), (0.15, 0.25, 0.6), (0.0, 0.8, 0.2), (0.85, 0.0, 0.15))
SO_TYPES = ("stackoverflow_question", "stackoverflow_answer")
SO_TYPE_P = (0.6, 0.4)

SIGNAL_TYPES = TWITTER_TYPES + SO_TYPES + FUNNEL_STAGES
SOURCES = ("twitter", "stackoverflow", "product")
_DAY = 86_400


def generate_analytics_inputs(
    seed: int, accounts: int, signals: int, anchor: datetime
) -> dict[str, pd.DataFrame]:
    """Frames for core.signals, core.companies, core.contacts and core.deals (their exact columns).

    ``signals`` is the total number of signal rows; the same arguments give the same frames.
    """
    if anchor.tzinfo is None:
        raise ValueError("anchor must be timezone-aware (UTC)")
    if accounts < 1 or signals < 0:
        raise ValueError("need at least one account and a non-negative number of signals")
    rng = np.random.default_rng(seed)
    now = int(pd.Timestamp(anchor).timestamp())
    acc = _accounts(rng, accounts, now)
    con = _contacts(rng, acc)
    walk = _funnel_walk(rng, acc, con, now)
    rest = _background(rng, acc, con, walk, max(signals - len(walk["t"]), 0), now)
    parts = {k: np.concatenate([walk.pop(k), rest.pop(k)])[:signals] for k in list(walk)}
    del rest
    return {
        "core.signals": _signals_frame(rng, parts, acc, con),
        "core.companies": _companies_frame(acc, now),
        "core.contacts": _contacts_frame(acc, con),
        "core.deals": _deals_frame(rng, acc, now),
    }


def _accounts(rng: np.random.Generator, n: int, now: int) -> dict[str, np.ndarray]:
    start = now - (rng.random(n) * HISTORY_DAYS * _DAY).astype(np.int64)
    churned = rng.random(n) < CHURN_SHARE
    life = (rng.exponential(21.0, n) * _DAY).astype(np.int64) + _DAY
    end = np.where(churned, np.minimum(start + life, now), now)
    return {
        "org": rng.choice(len(ORGANIZATIONS), n, p=ORGANIZATION_SHARES).astype(np.int8),
        "start": start,
        "end": end,
        "activity": rng.lognormal(0.0, 1.0, n),
    }


def _contacts(rng: np.random.Generator, acc: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Contacts 0..per_account.sum()-1 belong to accounts in order; the rest have no company."""
    n = len(acc["org"])
    lo, hi = CONTACTS_PER_ACCOUNT
    per_account = rng.integers(lo, hi + 1, n)
    first = np.concatenate([[0], np.cumsum(per_account)[:-1]])
    affiliated = int(per_account.sum())
    free = max(int(n * UNAFFILIATED_CONTACT_SHARE), len(ORGANIZATIONS))
    free_org = np.arange(free) % len(ORGANIZATIONS)
    return {
        "first": first,
        "count": per_account,
        "company": np.concatenate([np.repeat(np.arange(n), per_account), np.full(free, -1)]),
        "org": np.concatenate([np.repeat(acc["org"], per_account), free_org]).astype(np.int8),
        "free_first": affiliated,
        "free_count": free,
    }


def _pick_contact(rng: np.random.Generator, con: dict, account: np.ndarray) -> np.ndarray:
    return con["first"][account] + (rng.random(len(account)) * con["count"][account]).astype(
        np.int64
    )


def _funnel_walk(rng: np.random.Generator, acc: dict, con: dict, now: int) -> dict[str, np.ndarray]:
    """Each funnel account's first signal of each stage it reaches (see the module docstring)."""
    n = len(acc["org"])
    walkers = np.flatnonzero(rng.random(n) < FUNNEL_SHARE)
    entry = acc["start"][walkers] + (rng.random(len(walkers)) * _DAY).astype(np.int64)
    keys = {k: [] for k in ("account", "contact", "t", "type")}
    alive, t = np.ones(len(walkers), bool), entry.copy()
    for step, stage in enumerate(FUNNEL_STAGES):
        if step:
            alive &= rng.random(len(walkers)) < FUNNEL_CONTINUE[step - 1]
            gap = (rng.exponential(FUNNEL_MEAN_GAP_DAYS, len(walkers)) * _DAY).astype(np.int64)
            late = entry + ((31 + rng.random(len(walkers)) * 29) * _DAY).astype(np.int64)
            t = np.where(rng.random(len(walkers)) < FUNNEL_LATE_SHARE, np.maximum(late, t), t + gap)
        alive &= t <= now
        keys["account"].append(walkers[alive])
        keys["contact"].append(_pick_contact(rng, con, walkers[alive]))
        keys["t"].append(t[alive])
        keys["type"].append(np.full(alive.sum(), SIGNAL_TYPES.index(stage), np.int8))
    return {k: np.concatenate(v) for k, v in keys.items()}


def _background(
    rng: np.random.Generator, acc: dict, con: dict, walk: dict, n: int, now: int
) -> dict[str, np.ndarray]:
    """Twitter, Stack Overflow and repeat product signals, heavier for more active accounts."""
    mix = np.array(list(SOURCE_MIX.values()))
    repeat_from = {  # repeats of a stage only by accounts that reached it, after they did
        s: np.flatnonzero(walk["type"] == SIGNAL_TYPES.index(s))
        for s in ("api_call", "feature_usage")
    }
    if not sum(len(v) for v in repeat_from.values()):
        mix[2] = 0.0
    source = rng.choice(3, n, p=mix / mix.sum()).astype(np.int8)
    out = {
        "account": np.empty(n, np.int32),
        "contact": np.empty(n, np.int32),
        "t": np.empty(n, np.int64),
        "type": np.empty(n, np.int8),
    }
    social = np.flatnonzero(source < 2)
    _social(rng, acc, con, social, source[social], out, now)
    product = np.flatnonzero(source == 2)
    stages = [s for s, rows in repeat_from.items() if len(rows)]
    stage_of = rng.integers(0, len(stages), len(product)) if stages else None
    for k, stage in enumerate(stages):
        rows = product[stage_of == k]
        src = repeat_from[stage][rng.integers(0, len(repeat_from[stage]), len(rows))]
        account, first_t = walk["account"][src], walk["t"][src]
        out["account"][rows] = account
        out["contact"][rows] = _pick_contact(rng, con, account)
        out["t"][rows] = first_t + (rng.random(len(rows)) * (now - first_t)).astype(np.int64)
        out["type"][rows] = SIGNAL_TYPES.index(stage)
    return out


def _social(
    rng: np.random.Generator,
    acc: dict,
    con: dict,
    rows: np.ndarray,
    source: np.ndarray,
    out: dict,
    now: int,
) -> None:
    weights = acc["activity"] / acc["activity"].sum()
    account = rng.choice(len(weights), len(rows), p=weights)
    span = acc["end"][account] - acc["start"][account]
    # Front-loaded activity (density falls over an account's life): retention decays by offset.
    t = acc["start"][account] + (rng.random(len(rows)) ** 2 * span).astype(np.int64)
    contact = _pick_contact(rng, con, account)
    free = rng.random(len(rows)) < NULL_COMPANY_SHARE
    if free.any():
        free_contact = con["free_first"] + rng.integers(0, con["free_count"], free.sum())
        contact[free] = free_contact
        account[free] = -1
        t[free] = now - (rng.random(free.sum()) * HISTORY_DAYS * _DAY).astype(np.int64)
    tw_type = rng.choice(len(TWITTER_TYPES), len(rows), p=TWITTER_TYPE_P)
    so_type = len(TWITTER_TYPES) + rng.choice(len(SO_TYPES), len(rows), p=SO_TYPE_P)
    out["account"][rows] = account
    out["contact"][rows] = contact
    out["t"][rows] = np.minimum(t, now)
    out["type"][rows] = np.where(source == 0, tw_type, so_type).astype(np.int8)


def _signals_frame(rng: np.random.Generator, parts: dict, acc: dict, con: dict) -> pd.DataFrame:
    n = len(parts["t"])
    type_ = parts["type"]
    source = np.select(
        [type_ < len(TWITTER_TYPES), type_ < len(TWITTER_TYPES) + len(SO_TYPES)], [0, 1], 2
    ).astype(np.int8)
    sentiment = np.full(n, -1, np.int8)
    tweets = np.flatnonzero(source == 0)
    cumulative = np.cumsum(np.array(SENTIMENT_P), axis=1)[type_[tweets]]
    sentiment[tweets] = (rng.random(len(tweets))[:, None] > cumulative).sum(axis=1).clip(max=2)
    score = np.full(n, np.nan)
    magnitude = rng.random(len(tweets))
    sign = np.choose(sentiment[tweets], [1.0, -1.0, 0.0])
    score[tweets] = np.round(
        np.where(sign == 0, (magnitude - 0.5) * 0.1, sign * (0.05 + 0.95 * magnitude)), 4
    )
    delay = (rng.exponential(20 * 60, n)).astype(np.int64) + 1
    org = con["org"][parts["contact"]]
    signal_id = pc.binary_join_element_wise(
        pa.DictionaryArray.from_arrays(pa.array(source), pa.array(SOURCES)).cast(pa.string()),
        pc.cast(pa.array(np.arange(n)), pa.string()),
        ":",
    )
    return _conform(
        CORE_SIGNALS,
        {
            "signal_id": pd.Series(pd.arrays.ArrowStringArray(signal_id)),
            "organization_id": _cat(org, ORGANIZATIONS),
            "source": _cat(source, SOURCES),
            "signal_type": _cat(type_, SIGNAL_TYPES),
            "occurred_at": _ts(parts["t"]),
            "contact_id": _cat(parts["contact"], _contact_ids(len(con["org"]))),
            "company_id": _cat(parts["account"], _company_ids(len(acc["org"]))),
            "sentiment": _cat(sentiment, SENTIMENTS),
            "sentiment_score": score,
            "ingested_at": _ts(parts["t"] + delay),
        },
    )


def _companies_frame(acc: dict, now: int) -> pd.DataFrame:
    n = len(acc["org"])
    return _conform(
        CORE_COMPANIES,
        {
            "organization_id": _cat(acc["org"], ORGANIZATIONS),
            "company_id": _company_ids(n),
            "name": [f"Company {i}" for i in range(n)],
            "domain": [f"company{i}.example" for i in range(n)],
            "created_at": _ts(np.minimum(acc["start"] - 30 * _DAY, now)),
        },
    )


def _contacts_frame(acc: dict, con: dict) -> pd.DataFrame:
    n = len(con["org"])
    company = con["company"]
    created = np.where(company >= 0, acc["start"][np.maximum(company, 0)], acc["start"].min())
    return _conform(
        CORE_CONTACTS,
        {
            "organization_id": _cat(con["org"], ORGANIZATIONS),
            "contact_id": _contact_ids(n),
            "company_id": _cat(company, _company_ids(len(acc["org"]))),
            "full_name": [f"Contact {i}" for i in range(n)],
            "email": [f"contact{i}@example.com" for i in range(n)],
            "source": ["crm"] * n,
            "created_at": _ts(created - 7 * _DAY),
        },
    )


def _deals_frame(rng: np.random.Generator, acc: dict, now: int) -> pd.DataFrame:
    holders = np.flatnonzero(rng.random(len(acc["org"])) < DEAL_ACCOUNT_SHARE)
    account = np.repeat(holders, rng.integers(1, 4, len(holders)))
    start, end = acc["start"][account] - 7 * _DAY, acc["end"][account]
    created = start + (rng.random(len(account)) * (end - start)).astype(np.int64)
    amount = np.round(rng.lognormal(9.0, 1.0, len(account)), -2)
    amount[rng.random(len(account)) < 0.05] = np.nan
    updated = np.minimum(
        created + (rng.exponential(10.0, len(account)) * _DAY).astype(np.int64), now
    )
    n = len(account)
    return _conform(
        CORE_DEALS,
        {
            "organization_id": _cat(acc["org"][account], ORGANIZATIONS),
            "deal_id": [f"deal-{i:07d}" for i in range(n)],
            "company_id": _cat(account, _company_ids(len(acc["org"]))),
            "name": [f"Company {a} deal" for a in account],
            "stage": _cat(rng.integers(0, len(DEAL_STAGES), n), DEAL_STAGES),
            "amount": amount,
            "created_at": _ts(created),
            "updated_at": _ts(np.maximum(updated, created)),
            "stage_changes": rng.integers(0, 6, n).astype(np.int64),
        },
    )


def _cat(codes: np.ndarray, categories) -> pd.Categorical:
    """Codes (-1 = NULL) over string categories, without materializing one string per row."""
    return pd.Categorical.from_codes(np.asarray(codes).astype(np.int32), categories=categories)


def _ts(seconds: np.ndarray) -> pd.DatetimeIndex:
    return pd.to_datetime(seconds.astype("datetime64[s]").astype("datetime64[us]"), utc=True)


@lru_cache(maxsize=4)
def _company_ids(n: int) -> list[str]:
    return [f"co-{i:07d}" for i in range(n)]


@lru_cache(maxsize=4)
def _contact_ids(n: int) -> list[str]:
    return [f"ct-{i:07d}" for i in range(n)]


def _conform(spec: TableSpec, data: dict) -> pd.DataFrame:
    """Exactly the spec's columns, in order; the ones not generated are typed NULLs."""
    n = len(next(iter(data.values())))
    nulls = {
        "bigint": lambda: pd.array([None] * n, dtype="Int64"),
        "double": lambda: np.full(n, np.nan),
        "boolean": lambda: pd.array([None] * n, dtype="boolean"),
        "timestamptz": lambda: pd.Series(pd.NaT, index=range(n), dtype="datetime64[us, UTC]"),
    }
    columns = {
        c.name: data[c.name] if c.name in data else nulls.get(c.type, lambda: [None] * n)()
        for c in spec.columns
    }
    unknown = set(data) - set(columns)
    if unknown:
        raise ValueError(f"{spec.qualified_name} has no columns {sorted(unknown)}")
    return pd.DataFrame(columns, copy=False)
