"""The funnel's rules on hand-made accounts, on both engines: steps count in order only, within
the window from the entry; open windows are in progress, closed ones dropped; organizations that
share a company id never mix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from devsignal_pipelines.lib.sql_models import load_project, run_models
from devsignal_pipelines.lib.stores.tables import CORE_SIGNALS
from devsignal_pipelines.lib.stores.warehouse import Warehouse

AS_OF = datetime(2026, 11, 20, tzinfo=UTC)
DAY = timedelta(days=1)


def _signals(rows: list[tuple[str, str, str, datetime]]) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows, columns=["organization_id", "company_id", "signal_type", "occurred_at"]
    )
    frame["signal_id"] = [f"p:{i}" for i in range(len(frame))]
    frame["source"] = "product"
    frame["ingested_at"] = frame["occurred_at"]
    return frame


@pytest.fixture
def funnel(stores: dict[str, str]) -> pd.DataFrame:
    start = AS_OF - 60 * DAY
    rows = [
        # a: a docs_view before the star does not count; the one after does.
        ("acme", "a", "docs_view", start),
        ("acme", "a", "github_star", start + DAY),
        ("acme", "a", "docs_view", start + 2 * DAY),
        # e: its only docs_view came before its star: it never reached docs_view.
        ("acme", "e", "docs_view", start),
        ("acme", "e", "github_star", start + DAY),
        # b: skips docs_view, so its signup does not make it reach signup.
        ("acme", "b", "github_star", start),
        ("acme", "b", "signup", start + DAY),
        # c: docs_view 31 days after the entry: outside the 30-day window, dropped.
        ("acme", "c", "github_star", start),
        ("acme", "c", "docs_view", start + 31 * DAY),
        # d: entered 5 days ago, nothing since: still in progress.
        ("acme", "d", "github_star", AS_OF - 5 * DAY),
        # Another organization with the same company id "a": its steps are its own.
        ("beta", "a", "github_star", start),
        ("beta", "a", "docs_view", start + DAY),
        ("beta", "a", "signup", start + 2 * DAY),
    ]
    warehouse = Warehouse(stores["warehouse"])
    warehouse.ensure_tables()
    with warehouse.transaction() as tx:
        tx.merge(CORE_SIGNALS, _signals(rows))
    run_models(load_project(), warehouse, select=["signal_funnel"], as_of=AS_OF)
    frame = warehouse.read_df(
        "SELECT organization_id, stage, accounts, in_progress, dropped FROM analytics.signal_funnel "
        "WHERE funnel = 'product_adoption' ORDER BY organization_id, step_order"
    )
    return frame.set_index(["organization_id", "stage"])


def test_steps_count_in_order_within_the_window(funnel: pd.DataFrame) -> None:
    acme = funnel.loc["acme"]
    assert acme.loc["github_star", "accounts"] == 5
    assert acme.loc["docs_view", "accounts"] == 1  # only a: e's was early, b skipped, c was late
    assert acme.loc["signup", "accounts"] == 0  # b's signup came without docs_view
    assert acme.loc["github_star", "in_progress"] == 1  # d, inside its window
    assert acme.loc["github_star", "dropped"] == 3  # b, c and e, windows closed
    assert acme.loc["docs_view", "dropped"] == 1  # a stopped after docs_view


def test_organizations_sharing_a_company_id_never_mix(funnel: pd.DataFrame) -> None:
    beta = funnel.loc["beta"]
    assert beta.loc["github_star", "accounts"] == 1
    assert beta.loc["signup", "accounts"] == 1
    assert funnel.loc["acme"].loc["signup", "accounts"] == 0  # beta's signup stays in beta
