"""PNG pictures of analytics models for the Dagster UI: the funnel, cohort retention, trends.

Each picture takes the model's whole output table (every organization) and draws one titled panel
per organization (at most ``MAX_PANELS``, the largest first; a note says how many were left out),
so no organization's numbers are mixed with another's. The Dagster asset panel shows a markdown
image at about 600-800 px wide, so the figures are ``WIDTH`` inches at ``DPI`` (~860 px, barely
scaled down) with fonts of 10-12 pt. Periods still running are drawn as such, never as churn: the
cohort heat map's running cells are hatched grey ("running period"), the trends' running week is
shaded. An empty table gives a picture that says so.

``*_figure`` functions return the matplotlib figure (tests read its panels), ``*_png`` the bytes.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

DPI = 96
WIDTH = 9.0
MAX_PANELS = 4
FONT = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
}
BAR = "#4c72b0"
DROP = "#c44e52"
RUNNING = "#d9d9d9"  # the fill of a running (incomplete) period


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    plt.close(fig)
    return buffer.getvalue()


def _empty(title: str) -> Figure:
    with plt.rc_context(FONT):
        fig, ax = plt.subplots(figsize=(WIDTH, 1.2))
        ax.axis("off")
        ax.text(0.5, 0.5, f"{title}: no rows yet", ha="center", va="center")
    return fig


def _organizations(frame: pd.DataFrame, weight: str) -> tuple[list[str], int]:
    """The organizations to draw, largest (by ``weight``) first, and how many were left out."""
    sizes = frame.groupby("organization_id")[weight].sum()
    ordered = sorted(sizes.index, key=lambda org: (-sizes[org], org))
    return ordered[:MAX_PANELS], max(0, len(ordered) - MAX_PANELS)


def _panels(count: int, height: float) -> tuple[Figure, list]:
    fig, axes = plt.subplots(
        count, 1, figsize=(WIDTH, height * count), squeeze=False, layout="constrained"
    )
    return fig, list(axes[:, 0])


def _left_out(fig: Figure, title: str, left_out: int) -> None:
    more = f" (+{left_out} smaller organization(s) not shown)" if left_out else ""
    fig.suptitle(f"{title}{more}", fontsize=13)


def panel_titles(fig: Figure) -> list[str]:
    """The titles of the figure's panels (one per organization), colour bars left out."""
    return [ax.get_title() for ax in fig.axes if ax.get_title()]


def panel_organization(title: str) -> str:
    return title.split(" — ", 1)[0]


# --- funnel ----------------------------------------------------------------------------------


def signal_funnel_figure(frame: pd.DataFrame) -> Figure:
    """Horizontal bars of accounts per stage (first funnel), one panel per organization; the
    count and share of entrants sit right of each bar, the drop from the previous stage in a
    column right of the plot, so no label overlaps a bar."""
    if frame.empty:
        return _empty("signal_funnel")
    funnel = sorted(frame["funnel"].unique())[0]
    frame = frame[frame["funnel"] == funnel]
    orgs, left_out = _organizations(frame[frame["step_order"] == 1], "accounts")
    stages = frame["step_order"].nunique()
    with plt.rc_context(FONT):
        fig, axes = _panels(len(orgs), 0.45 * stages + 1.1)
        _left_out(fig, f"funnel {funnel}: accounts reaching each stage", left_out)
        for ax, org in zip(axes, orgs, strict=True):
            steps = frame[frame["organization_id"] == org].sort_values("step_order")
            accounts = steps["accounts"].astype(float).to_numpy()
            y = np.arange(len(steps))
            ax.barh(y, accounts, color=BAR, height=0.6)
            ax.set_yticks(
                y, [f"{o}. {s}" for o, s in zip(steps["step_order"], steps["stage"], strict=True)]
            )
            ax.invert_yaxis()
            top = accounts.max() if len(accounts) else 0
            ax.set_xlim(0, top * 1.3 if top else 1)
            ax.set_xlabel("accounts")
            ax.set_title(f"{org} — {int(accounts[0]) if len(accounts) else 0} entered")
            ax.spines[["top", "right"]].set_visible(False)
            conversions = steps["conversion_from_first"].astype(float).fillna(0)
            for i, (n, conv) in enumerate(zip(accounts, conversions, strict=True)):
                ax.annotate(
                    f"{int(n)} ({conv:.0%})",
                    xy=(n, i),
                    xytext=(4, 0),
                    textcoords="offset points",
                    va="center",
                )
                if i and accounts[i - 1] > 0:
                    drop = 1 - n / accounts[i - 1]
                    ax.text(
                        1.01,
                        i,
                        f"\N{MINUS SIGN}{drop:.0%}" if drop > 0 else "0%",
                        transform=ax.get_yaxis_transform(),
                        va="center",
                        color=DROP,
                    )
            ax.text(
                1.01,
                -0.9,
                "drop",
                transform=ax.get_yaxis_transform(),
                va="center",
                color=DROP,
                fontsize=10,
            )
    return fig


def signal_funnel_png(frame: pd.DataFrame) -> bytes:
    return _png(signal_funnel_figure(frame))


# --- cohorts ---------------------------------------------------------------------------------


def cohort_matrix(frame: pd.DataFrame) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    """One organization's cohorts (one grain) as (cohort starts, retention, running).

    ``retention[i, j]`` is cohort i's share active at offset j; NaN where the period is still
    running (``is_incomplete``: its count is not final, so it is no retention figure yet) or not
    reached. ``running`` is True at the running cells (drawn hatched, not as a colour).
    """
    grid = frame.pivot_table(
        index="cohort_start", columns="period_offset", values="retention", aggfunc="first"
    ).sort_index()
    running = (
        frame.pivot_table(
            index="cohort_start", columns="period_offset", values="is_incomplete", aggfunc="any"
        )
        .reindex(index=grid.index, columns=grid.columns)
        .fillna(False)
        .to_numpy(dtype=bool)
    )
    retention = grid.to_numpy(dtype=float, copy=True)
    retention[running] = np.nan
    return grid.index, retention, running


def account_cohorts_figure(frame: pd.DataFrame) -> Figure:
    """Retention heat map (cohort x periods since first signal, share active), one panel per
    organization; the running period is hatched grey, not coloured."""
    if frame.empty:
        return _empty("account_cohorts")
    grain = "week" if (frame["cohort_grain"] == "week").any() else frame["cohort_grain"].iloc[0]
    frame = frame[frame["cohort_grain"] == grain]
    orgs, left_out = _organizations(frame[frame["period_offset"] == 0], "cohort_size")
    cmap = plt.get_cmap("viridis").with_extremes(bad="white")
    with plt.rc_context(FONT):
        fig, axes = _panels(len(orgs), 4.6)
        _left_out(fig, f"share of each {grain}ly cohort active N {grain}s later", left_out)
        for ax, org in zip(axes, orgs, strict=True):
            cohorts, retention, running = cohort_matrix(frame[frame["organization_id"] == org])
            image = ax.imshow(
                np.ma.masked_invalid(retention),
                aspect="auto",
                cmap=cmap,
                vmin=0,
                vmax=1,
                interpolation="nearest",
            )
            for i, j in zip(*np.nonzero(running), strict=True):
                ax.add_patch(
                    Rectangle(
                        (j - 0.5, i - 0.5),
                        1,
                        1,
                        facecolor=RUNNING,
                        edgecolor="#7f7f7f",
                        hatch="////",
                        linewidth=0,
                    )
                )
            labels = [pd.Timestamp(d).strftime("%Y-%m-%d") for d in cohorts]
            step = max(1, len(labels) // 8)
            ax.set_yticks(range(0, len(labels), step), labels[::step])
            ax.set_ylabel(f"cohort ({grain} of first signal)")
            ax.set_xlabel(f"{grain}s since first signal")
            ax.set_title(f"{org} — {len(labels)} {grain}ly cohorts")
            fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02, format="{x:.0%}")
            ax.legend(
                handles=[
                    Patch(
                        facecolor=RUNNING, edgecolor="#7f7f7f", hatch="////", label="running period"
                    )
                ],
                loc="lower right",  # in the blank not-yet-reached corner, over no cell
                framealpha=0.9,
            )
    return fig


def account_cohorts_png(frame: pd.DataFrame) -> bytes:
    return _png(account_cohorts_figure(frame))


# --- trends ----------------------------------------------------------------------------------


def signal_type_colours(signal_types) -> dict[str, str]:
    """A fixed, distinct colour per signal type (sorted), the same in every panel: tab20, then
    tab20b and tab20c (60 colours) before any repeats."""
    palette = [
        to_hex(c)
        for name in ("tab20", "tab20b", "tab20c")
        for c in plt.get_cmap(name).colors  # type: ignore[attr-defined]
    ]
    palette = list(dict.fromkeys(palette))
    return {t: palette[i % len(palette)] for i, t in enumerate(sorted(set(signal_types)))}


def signal_trends_figure(frame: pd.DataFrame) -> Figure:
    """Signals per week by signal type (summed over sources), one panel per organization, one
    colour per type shared by every panel, the legend below the plots; the week still running
    is shaded."""
    if frame.empty:
        return _empty("signal_trends")
    period = "week" if (frame["period"] == "week").any() else frame["period"].iloc[0]
    rows = frame[frame["period"] == period]
    orgs, left_out = _organizations(rows, "signals")
    colours = signal_type_colours(rows["signal_type"])
    starts = pd.to_datetime(rows["period_start"])
    last = starts.max()
    # The last week runs on until it holds a Sunday (read from the daily rows, when there are any).
    days = pd.to_datetime(frame.loc[frame["period"] == "day", "period_start"])
    running = period == "week" and not days.empty and days.max() < last + pd.Timedelta(days=6)
    with plt.rc_context(FONT):
        fig, axes = _panels(len(orgs), 3.0)
        _left_out(fig, f"signals per {period} by signal type", left_out)
        for ax, org in zip(axes, orgs, strict=True):
            lines = (
                rows[rows["organization_id"] == org]
                .pivot_table(
                    index="period_start", columns="signal_type", values="signals", aggfunc="sum"
                )
                .sort_index()
            )
            full = pd.date_range(starts.min(), last, freq="7D" if period == "week" else "D")
            lines = lines.reindex(full if period in ("week", "day") else lines.index).fillna(0)
            for signal_type in lines.columns:
                ax.plot(lines.index, lines[signal_type], color=colours[signal_type], lw=1.6)
            if running:
                ax.axvspan(
                    last - pd.Timedelta(days=3.5), last + pd.Timedelta(days=3.5), color=RUNNING
                )
            ax.set_title(f"{org} — {int(lines.to_numpy().sum()):,} signals")
            ax.set_ylabel(f"signals / {period}")
            ax.set_ylim(bottom=0)
            ax.margins(x=0.01)
            ax.grid(axis="y", alpha=0.3)
            ax.spines[["top", "right"]].set_visible(False)
        handles = [plt.Line2D([], [], color=c, lw=3, label=t) for t, c in colours.items()]
        if running:
            handles.append(Patch(color=RUNNING, label=f"running {period}"))
        fig.legend(handles=handles, loc="outside lower center", ncol=4, frameon=False)
    return fig


def signal_trends_png(frame: pd.DataFrame) -> bytes:
    return _png(signal_trends_figure(frame))


PICTURES: dict[str, Callable[[pd.DataFrame], bytes]] = {
    "signal_funnel": signal_funnel_png,
    "account_cohorts": account_cohorts_png,
    "signal_trends": signal_trends_png,
}
