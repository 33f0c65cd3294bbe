"""Independent pandas computations of what each model should return, from the generated inputs.

Written from the definitions in schema.yml, not from the SQL: loops and merges where the SQL uses
joins and window functions. The tunables come from project.yml (configuration, not results).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

TIER_RANK = {"COLD": 1, "WARM": 2, "HOT": 3}

# core.account_score_history, in order: the webhooks read these names.
HISTORY_COLUMNS = [
    "organization_id",
    "company_id",
    "snapshot_at",
    "score",
    "tier",
    "signals",
    "last_signal_at",
]


def _round(value: float, digits: int) -> float:
    """As the SQL does: through DECIMAL(18, 6), then half away from zero to `digits` decimals."""
    step = Decimal(1).scaleb(-digits)
    return float(Decimal(f"{value:.6f}").quantize(step, rounding=ROUND_HALF_UP))


def _round1(value: float) -> float:
    return _round(value, 1)


def _signals(inputs: dict[str, pd.DataFrame]) -> pd.DataFrame:
    s = inputs["core.signals"].copy()
    for column in ("organization_id", "source", "signal_type", "sentiment", "company_id"):
        s[column] = s[column].astype(object).where(s[column].notna(), None)
    s["day"] = s["occurred_at"].dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize()
    return s


def _day(moment: datetime) -> pd.Timestamp:
    return pd.Timestamp(moment.date())


def _monday(days: pd.Series) -> pd.Series:
    return days - pd.to_timedelta(days.dt.weekday, unit="D")


def score_snapshot(inputs: dict, scoring: dict, as_of: datetime) -> pd.DataFrame:
    s = _signals(inputs)
    s = s[s["company_id"].notna() & (s["occurred_at"] <= pd.Timestamp(as_of))]
    age = (_day(as_of) - s["day"]).dt.days
    inside = age <= scoring["lookback_days"]
    weight = s["signal_type"].map(scoring["weights"]).fillna(scoring["default_weight"])
    s = s.assign(
        points=np.where(inside, weight * 0.5 ** (age / scoring["half_life_days"]), 0.0),
        counted=inside.astype(int),
    )
    g = s.groupby(["organization_id", "company_id"]).agg(
        points=("points", "sum"), signals=("counted", "sum"), last_signal_at=("occurred_at", "max")
    )
    g = g.reset_index()
    g["score"] = [_round1(100 * (1 - math.exp(-p / scoring["saturation"]))) for p in g["points"]]
    tiers = scoring["tiers"]
    g["tier"] = np.select(
        [g["score"] >= tiers["hot"], g["score"] >= tiers["warm"]], ["HOT", "WARM"], "COLD"
    )
    g["snapshot_at"] = pd.Timestamp(as_of)
    return g[HISTORY_COLUMNS]


def score_history(inputs: dict, scoring: dict, as_ofs: list[datetime]) -> pd.DataFrame:
    return pd.concat(
        [score_snapshot(inputs, scoring, a) for a in sorted(set(as_ofs))], ignore_index=True
    )


def account_scores(history: pd.DataFrame, inputs: dict, scoring: dict) -> pd.DataFrame:
    rows = []
    latest = history.groupby("organization_id")["snapshot_at"].max()
    for (org, company), h in history.groupby(["organization_id", "company_id"]):
        h = h.sort_values("snapshot_at")
        cur = h.iloc[-1]
        if cur["snapshot_at"] != latest[org]:
            continue  # not in the organization's newest snapshot: no longer current
        prev = h.iloc[-2] if len(h) > 1 else None
        change = None if prev is None else _round1(cur["score"] - prev["score"])
        if change is None or abs(change) < scoring["stable_band"]:
            trend = "STABLE"
        else:
            trend = "RISING" if change > 0 else "FALLING"
        rows.append(
            {
                "organization_id": org,
                "company_id": company,
                "score": cur["score"],
                "tier": cur["tier"],
                "signals": cur["signals"],
                "last_signal_at": cur["last_signal_at"],
                "snapshot_at": cur["snapshot_at"],
                "previous_score": None if prev is None else prev["score"],
                "previous_tier": None if prev is None else prev["tier"],
                "previous_snapshot_at": None if prev is None else prev["snapshot_at"],
                "score_change": change,
                "trend": trend,
            }
        )
    out = pd.DataFrame(rows)
    companies = inputs["core.companies"][["company_id", "name", "domain"]].rename(
        columns={"name": "company_name", "domain": "company_domain"}
    )
    return out.merge(companies, on="company_id", how="left")


def signal_trends(inputs: dict, as_of: datetime) -> pd.DataFrame:
    s = _signals(inputs)
    s = s[s["day"] <= _day(as_of)]
    frames = []
    for period, start in (("day", s["day"]), ("week", _monday(s["day"]))):
        g = (
            s.assign(period=period, period_start=start)
            .groupby(["organization_id", "period", "period_start", "source", "signal_type"])
            .agg(signals=("signal_id", "size"), accounts=("company_id", "nunique"))
        )
        frames.append(g.reset_index())
    return pd.concat(frames, ignore_index=True)


def sentiment_daily(inputs: dict, as_of: datetime) -> pd.DataFrame:
    s = _signals(inputs)
    s = s[(s["source"] == "twitter") & (s["day"] <= _day(as_of))]
    s = s.assign(sentiment=s["sentiment"].fillna("unclassified"))
    g = (
        s.groupby(["organization_id", "day", "sentiment"])
        .agg(mentions=("signal_id", "size"), accounts=("company_id", "nunique"))
        .reset_index()
    )
    g["share_of_day"] = g["mentions"] / g.groupby(["organization_id", "day"])["mentions"].transform(
        "sum"
    )
    return g


def _period_start(days: pd.Series, grain: str) -> pd.Series:
    return _monday(days) if grain == "week" else days.dt.to_period("M").dt.to_timestamp()


def _offset(start: pd.Timestamp, cohort: pd.Timestamp, grain: str) -> int:
    if grain == "week":
        return (start - cohort).days // 7
    return (start.year - cohort.year) * 12 + start.month - cohort.month


def account_cohorts(inputs: dict, as_of: datetime) -> pd.DataFrame:
    s = _signals(inputs)
    s = s[s["company_id"].notna() & (s["day"] <= _day(as_of))]
    rows = []
    for grain in ("week", "month"):
        s = s.assign(period_start=_period_start(s["day"], grain))
        as_of_period = _period_start(pd.Series([_day(as_of)]), grain).iloc[0]
        for org, o in s.groupby("organization_id"):
            first = o.groupby("company_id")["period_start"].min().rename("cohort_start")
            o = o.join(first, on="company_id")
            for cohort, members in o.groupby("cohort_start"):
                size = members["company_id"].nunique()
                last = _offset(as_of_period, cohort, grain)
                by_period = members.groupby("period_start").agg(
                    active=("company_id", "nunique"), signals=("signal_id", "size")
                )
                for n in range(last + 1):
                    start = cohort + (
                        pd.DateOffset(weeks=n) if grain == "week" else pd.DateOffset(months=n)
                    )
                    active = by_period["active"].get(start, 0)
                    rows.append(
                        {
                            "organization_id": org,
                            "cohort_grain": grain,
                            "cohort_start": cohort,
                            "period_offset": n,
                            "period_start": start,
                            "cohort_size": size,
                            "active_accounts": active,
                            "retention": active / size,
                            "signals": by_period["signals"].get(start, 0),
                            "is_incomplete": n == last,
                        }
                    )
    return pd.DataFrame(rows)


def signal_funnel(inputs: dict, funnels: dict, window_days: int, as_of: datetime) -> pd.DataFrame:
    s = _signals(inputs)
    s = s[s["company_id"].notna() & (s["occurred_at"] <= pd.Timestamp(as_of))]
    window = pd.Timedelta(days=window_days)
    rows = []
    for funnel, stages in funnels.items():
        times = {
            key: g.sort_values().tolist()
            for key, g in s[s["signal_type"].isin(stages)].groupby(
                ["organization_id", "company_id", "signal_type"]
            )["occurred_at"]
        }
        walks: dict[str, list[list[pd.Timestamp]]] = {}
        for org, company in (
            s[["organization_id", "company_id"]].drop_duplicates().itertuples(index=False)
        ):
            first = times.get((org, company, stages[0]))
            if not first:
                continue
            walk = [first[0]]
            for stage in stages[1:]:
                nxt = [
                    t
                    for t in times.get((org, company, stage), [])
                    if t >= walk[-1] and t <= walk[0] + window
                ]
                if not nxt:
                    break
                walk.append(nxt[0])
            walks.setdefault(org, []).append(walk)
        for org, org_walks in walks.items():
            entrants = len(org_walks)
            previous = None
            for k, stage in enumerate(stages):
                reached = [w for w in org_walks if len(w) > k]
                stuck = [w for w in reached if len(w) == k + 1]
                is_last = k == len(stages) - 1
                hours = [(w[k] - w[k - 1]).total_seconds() / 3600 for w in reached] if k else []
                rows.append(
                    {
                        "organization_id": org,
                        "funnel": funnel,
                        "step_order": k + 1,
                        "stage": stage,
                        "accounts": len(reached),
                        "conversion_from_first": len(reached) / entrants,
                        "conversion_from_previous": 1.0
                        if k == 0
                        else (len(reached) / previous if previous else None),
                        "median_hours_from_previous": float(np.median(hours)) if hours else None,
                        "in_progress": None
                        if is_last
                        else sum(w[0] + window > pd.Timestamp(as_of) for w in stuck),
                        "dropped": None
                        if is_last
                        else sum(w[0] + window <= pd.Timestamp(as_of) for w in stuck),
                    }
                )
                previous = len(reached)
    return pd.DataFrame(rows)


def tier_movement(history: pd.DataFrame) -> pd.DataFrame:
    h = history.sort_values(["organization_id", "company_id", "snapshot_at"]).copy()
    h["from_tier"] = h.groupby(["organization_id", "company_id"])["tier"].shift()
    moves = h[h["from_tier"].notna() & (h["from_tier"] != h["tier"])].rename(
        columns={"tier": "to_tier"}
    )
    day = moves["snapshot_at"].dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize()
    frames = []
    for period, start in (("day", day), ("week", _monday(day))):
        g = (
            moves.assign(period=period, period_start=start)
            .groupby(["organization_id", "period", "period_start", "from_tier", "to_tier"])
            .agg(accounts=("company_id", "nunique"), moves=("company_id", "size"))
            .reset_index()
        )
        frames.append(g)
    out = pd.concat(frames, ignore_index=True)
    out["direction"] = np.where(
        out["to_tier"].map(TIER_RANK) > out["from_tier"].map(TIER_RANK), "upgrade", "downgrade"
    )
    return out


def top_movers(history: pd.DataFrame, inputs: dict, settings: dict) -> pd.DataFrame:
    names = inputs["core.companies"].set_index("company_id")["name"]
    rows = []
    for org, h in history.groupby("organization_id"):
        snapshots = sorted(h["snapshot_at"].unique())
        latest = snapshots[-1]
        for days in settings["windows_days"]:
            base = [t for t in snapshots if t <= latest - timedelta(days=days)]
            if not base:
                continue
            old = h[h["snapshot_at"] == base[-1]].set_index("company_id")
            cur = h[h["snapshot_at"] == latest].set_index("company_id")
            both = cur.join(old, lsuffix="_to", rsuffix="_from", how="inner")
            both["change"] = [
                _round1(a - b) for a, b in zip(both["score_to"], both["score_from"], strict=True)
            ]
            for direction, part in (
                ("rise", both[both["change"] > 0]),
                ("fall", both[both["change"] < 0]),
            ):
                part = part.assign(size=part["change"].abs()).reset_index()
                part = part.sort_values(["size", "company_id"], ascending=[False, True])
                for rank, r in enumerate(part.head(settings["top_n"]).itertuples(), start=1):
                    rows.append(
                        {
                            "organization_id": org,
                            "window_days": days,
                            "direction": direction,
                            "rank": rank,
                            "company_id": r.company_id,
                            "company_name": names[r.company_id],
                            "score_from": r.score_from,
                            "score_to": r.score_to,
                            "score_change": r.change,
                            "tier_from": r.tier_from,
                            "tier_to": r.tier_to,
                            "from_snapshot_at": base[-1],
                            "to_snapshot_at": latest,
                        }
                    )
    return pd.DataFrame(rows)


def source_attribution(inputs: dict, scores: pd.DataFrame, as_of: datetime) -> pd.DataFrame:
    s = _signals(inputs)
    s = s[s["occurred_at"] <= pd.Timestamp(as_of)]
    out = (
        s.groupby(["organization_id", "source"])
        .agg(signals=("signal_id", "size"), accounts_touched=("company_id", "nunique"))
        .reset_index()
    )
    deals = inputs["core.deals"].copy()
    deals["company_id"] = deals["company_id"].astype(object)
    deals["organization_id"] = deals["organization_id"].astype(object)
    deals = deals[deals["company_id"].notna() & (deals["created_at"] <= pd.Timestamp(as_of))]
    credit: dict[tuple[str, str], dict[str, float]] = {}
    by_company = {
        k: g for k, g in s[s["company_id"].notna()].groupby(["organization_id", "company_id"])
    }
    for deal in deals.itertuples():
        g = by_company.get((deal.organization_id, deal.company_id))
        if g is None:
            continue
        touches = g[g["occurred_at"] < deal.created_at].sort_values(
            ["occurred_at", "source", "signal_id"]
        )
        if touches.empty:
            continue
        amount = 0.0 if pd.isna(deal.amount) else deal.amount
        for source in touches["source"].unique():
            c = credit.setdefault(
                (deal.organization_id, source),
                {"deals": 0, "first": 0.0, "last": 0.0, "linear": 0.0},
            )
            c["deals"] += 1
            c["linear"] += amount * (touches["source"] == source).sum() / len(touches)
        credit[(deal.organization_id, touches["source"].iloc[0])]["first"] += amount
        credit[(deal.organization_id, touches["source"].iloc[-1])]["last"] += amount
    for column, key in (
        ("deals_touched", "deals"),
        ("pipeline_value_first_touch", "first"),
        ("pipeline_value_last_touch", "last"),
        ("pipeline_value_linear", "linear"),
    ):
        out[column] = [
            credit.get((o, src), {}).get(key, 0)
            for o, src in zip(out["organization_id"], out["source"], strict=True)
        ]
    for column in (
        "pipeline_value_first_touch",
        "pipeline_value_last_touch",
        "pipeline_value_linear",
    ):
        out[column] = [_round(v, 2) for v in out[column]]
    touched = s[s["company_id"].notna()][
        ["organization_id", "source", "company_id"]
    ].drop_duplicates()
    avg = (
        touched.merge(
            scores[["organization_id", "company_id", "score"]], on=["organization_id", "company_id"]
        )
        .groupby(["organization_id", "source"])["score"]
        .mean()
        .map(lambda v: _round(v, 4))
        .rename("avg_account_score")
    )
    return out.join(avg, on=["organization_id", "source"])
