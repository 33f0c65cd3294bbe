"""The funnel, cohort and trend pictures render from the models' real tables, and from empty ones:
one panel per organization, the running cohort period drawn as missing (never as 0% retention),
one distinct colour per signal type, and funnel labels clear of the bars."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex

from devsignal_pipelines.lib.analytics_pictures import (
    MAX_PANELS,
    PICTURES,
    account_cohorts_figure,
    cohort_matrix,
    panel_organization,
    panel_titles,
    signal_funnel_figure,
    signal_trends_figure,
    signal_type_colours,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FIGURES = {
    "signal_funnel": signal_funnel_figure,
    "account_cohorts": account_cohorts_figure,
    "signal_trends": signal_trends_figure,
}


@pytest.fixture(scope="module")
def frames(duckdb_built, project) -> dict[str, pd.DataFrame]:
    return {
        name: duckdb_built.read_df(f"SELECT * FROM {project.model(name).relation}")
        for name in PICTURES
    }


@pytest.mark.parametrize("name", sorted(PICTURES))
def test_picture_is_a_small_png_of_the_whole_table(name, frames):
    frame = frames[name]
    assert frame["organization_id"].nunique() > 1  # several organizations in one picture
    png = PICTURES[name](frame)
    assert png.startswith(PNG_MAGIC)
    assert 2_000 < len(png) < 300_000


@pytest.mark.parametrize("name", sorted(PICTURES))
def test_picture_of_an_empty_table_says_so(name, project):
    columns = [c.name for c in project.model(name).columns]
    png = PICTURES[name](pd.DataFrame(columns=columns))
    assert png.startswith(PNG_MAGIC)


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_each_organization_gets_its_own_panel(name, frames):
    frame = frames[name]
    organizations = set(frame["organization_id"])
    assert 1 < len(organizations) <= MAX_PANELS
    titles = panel_titles(FIGURES[name](frame))
    assert sorted(panel_organization(t) for t in titles) == sorted(organizations)


def _cohort_rows(organization: str) -> pd.DataFrame:
    """Two weekly cohorts; the as-of week is running (is_incomplete) and has no activity yet."""
    rows = [
        # cohort_start, offset, retention, is_incomplete
        ("2026-11-02", 0, 1.0, False),
        ("2026-11-02", 1, 0.0, False),  # a real 0%: nobody came back in a finished week
        ("2026-11-02", 2, 0.0, True),  # the running week: not churn, just not over
        ("2026-11-09", 0, 1.0, False),
        ("2026-11-09", 1, 0.0, True),
    ]
    return pd.DataFrame(
        [
            {
                "organization_id": organization,
                "cohort_grain": "week",
                "cohort_start": pd.Timestamp(start),
                "period_offset": offset,
                "period_start": pd.Timestamp(start) + pd.Timedelta(weeks=offset),
                "cohort_size": 4,
                "active_accounts": int(retention * 4),
                "retention": retention,
                "signals": int(retention * 4),
                "is_incomplete": incomplete,
            }
            for start, offset, retention, incomplete in rows
        ]
    )


def test_the_running_cohort_period_is_missing_not_zero():
    cohorts, retention, running = cohort_matrix(_cohort_rows("acme"))
    assert [str(c.date()) for c in cohorts] == ["2026-11-02", "2026-11-09"]
    assert running.tolist() == [[False, False, True], [False, True, False]]
    assert retention[0, 1] == 0.0  # a finished week's 0% stays 0%
    assert np.isnan(retention[0, 2]) and np.isnan(retention[1, 1])
    assert np.isnan(retention[1, 2])  # not reached yet


def test_the_heat_map_masks_the_running_period_and_says_so():
    fig = account_cohorts_figure(pd.concat([_cohort_rows("acme"), _cohort_rows("quill")]))
    heat_maps = [ax for ax in fig.axes if ax.images and ax.get_title()]
    assert len(heat_maps) == 2
    for ax in heat_maps:
        drawn = ax.images[0].get_array()
        assert np.ma.getmaskarray(drawn).tolist() == [[False, False, True], [False, True, True]]
        assert drawn[0, 1] == 0.0
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert labels == ["running period"]


def test_trends_give_each_signal_type_its_own_colour_in_every_panel(frames):
    frame = frames["signal_trends"]
    types = sorted(frame["signal_type"].unique())
    colours = signal_type_colours(types)
    assert sorted(colours) == types
    assert len(set(colours.values())) == len(types)
    assert len(set(signal_type_colours([f"type_{i}" for i in range(40)]).values())) == 40

    fig = signal_trends_figure(frame)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert len(panels) == frame["organization_id"].nunique()
    drawn = {to_hex(line.get_color()) for ax in panels for line in ax.get_lines()}
    assert drawn <= set(colours.values())  # a type has the same colour in every panel
    assert len(fig.legends) == 1  # one legend for every panel, outside the plots
    assert {t.get_text() for t in fig.legends[0].get_texts()} >= set(types)


def test_funnel_labels_never_overlap_a_bar(frames):
    fig = signal_funnel_figure(frames["signal_funnel"])
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        bars = [p.get_window_extent(renderer) for p in ax.patches if p.get_width() > 0]
        assert bars
        labels = [t.get_window_extent(renderer) for t in ax.texts if t.get_text()]
        assert labels
        for label in labels:
            assert not any(label.overlaps(bar) for bar in bars), label


def test_more_organizations_than_panels_says_how_many_are_left_out():
    frame = pd.concat([_cohort_rows(f"org{i}") for i in range(MAX_PANELS + 2)])
    fig = account_cohorts_figure(frame)
    assert len(panel_titles(fig)) == MAX_PANELS
    assert "+2 smaller organization(s) not shown" in fig.get_suptitle()
