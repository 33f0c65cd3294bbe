"""PNG pictures of analytics models for the Dagster UI: the funnel, cohort retention, trends.

Each function takes the model's whole output table (every organization) and returns PNG bytes
small enough for asset metadata (dpi 80, under 100 KB): the funnel and the cohorts get one panel
per organization (at most ``MAX_PANELS``, the largest first), the trends one panel summed over the
organizations. An empty table gives a picture that says so.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

DPI = 80
MAX_PANELS = 4


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _empty(title: str) -> bytes:
    fig, ax = plt.subplots(figsize=(5, 1.5))
    ax.axis("off")
    ax.text(0.5, 0.5, f"{title}: no rows yet", ha="center", va="center")
    return _png(fig)


def _organizations(frame: pd.DataFrame, weight: str) -> list[str]:
    """The organizations to draw, largest (by ``weight``) first."""
    sizes = frame.groupby("organization_id")[weight].sum().sort_values(ascending=False)
    return list(sizes.index[:MAX_PANELS])


def _panels(count: int, width: float, height: float) -> tuple[Figure, list]:
    fig, axes = plt.subplots(
        count, 1, figsize=(width, height * count), squeeze=False, layout="constrained"
    )
    return fig, list(axes[:, 0])


def signal_funnel_png(frame: pd.DataFrame) -> bytes:
    """Bars of accounts per step, per organization (first funnel), drop-off annotated."""
    if frame.empty:
        return _empty("signal_funnel")
    funnel = sorted(frame["funnel"].unique())[0]
    frame = frame[frame["funnel"] == funnel]
    orgs = _organizations(frame[frame["step_order"] == 1], "accounts")
    fig, axes = _panels(len(orgs), 7, 2.6)
    for ax, org in zip(axes, orgs, strict=True):
        steps = frame[frame["organization_id"] == org].sort_values("step_order")
        accounts = steps["accounts"].astype(float).to_numpy()
        x = np.arange(len(steps))
        ax.bar(x, accounts, color="#4c72b0")
        ax.set_xticks(x, steps["stage"], fontsize=8)
        ax.set_ylabel("accounts", fontsize=8)
        ax.set_title(f"{org} — {funnel}", fontsize=9)
        top = accounts.max() if len(accounts) else 0
        for i, (n, conv) in enumerate(zip(accounts, steps["conversion_from_first"], strict=True)):
            ax.text(i, n, f"{int(n)} ({conv:.0%})", ha="center", va="bottom", fontsize=7)
            if i and accounts[i - 1] > 0:
                drop = 1 - n / accounts[i - 1]
                ax.annotate(
                    f"-{drop:.0%}",
                    xy=(i - 0.5, top * 0.55),
                    ha="center",
                    fontsize=7,
                    color="#c44e52",
                )
        ax.set_ylim(0, top * 1.2 if top else 1)
    return _png(fig)


def account_cohorts_png(frame: pd.DataFrame) -> bytes:
    """Weekly retention heat map (cohort x period offset, share active), per organization."""
    if frame.empty:
        return _empty("account_cohorts")
    grain = "week" if (frame["cohort_grain"] == "week").any() else frame["cohort_grain"].iloc[0]
    frame = frame[frame["cohort_grain"] == grain]
    orgs = _organizations(frame[frame["period_offset"] == 0], "cohort_size")
    fig, axes = _panels(len(orgs), 7, 3.2)
    for ax, org in zip(axes, orgs, strict=True):
        grid = frame[frame["organization_id"] == org].pivot_table(
            index="cohort_start", columns="period_offset", values="retention"
        )
        image = ax.imshow(grid.to_numpy(dtype=float), aspect="auto", cmap="viridis", vmin=0, vmax=1)
        labels = [pd.Timestamp(d).strftime("%Y-%m-%d") for d in grid.index]
        step = max(1, len(labels) // 12)
        ax.set_yticks(range(0, len(labels), step), labels[::step], fontsize=7)
        ax.set_xlabel(f"{grain}s since first signal", fontsize=8)
        ax.set_title(f"{org} — share of {grain}ly cohort active", fontsize=9)
        fig.colorbar(image, ax=ax, fraction=0.03)
    return _png(fig)


def signal_trends_png(frame: pd.DataFrame) -> bytes:
    """Daily signals per signal_type, summed over every organization in the table, one line each
    (per-organization panels of 180 daily points x 11 types would not stay small)."""
    if frame.empty:
        return _empty("signal_trends")
    days = frame[frame["period"] == "day"] if (frame["period"] == "day").any() else frame
    lines = (
        days.pivot_table(
            index="period_start", columns="signal_type", values="signals", aggfunc="sum"
        )
        .fillna(0)
        .sort_index()
    )
    fig, ax = plt.subplots(figsize=(8, 3.2))
    for signal_type in lines.columns:
        ax.plot(pd.to_datetime(lines.index), lines[signal_type], label=signal_type, lw=0.8)
    orgs = days["organization_id"].nunique()
    ax.set_title(f"signals per day by type — {orgs} organization(s)", fontsize=9)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6, ncol=2, loc="upper left")
    fig.autofmt_xdate()
    return _png(fig)


PICTURES: dict[str, Callable[[pd.DataFrame], bytes]] = {
    "signal_funnel": signal_funnel_png,
    "account_cohorts": account_cohorts_png,
    "signal_trends": signal_trends_png,
}
