"""The funnel, cohort and trend pictures render from the models' real tables, and from empty ones."""

from __future__ import annotations

import pandas as pd
import pytest

from devsignal_pipelines.lib.analytics_pictures import PICTURES

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("name", sorted(PICTURES))
def test_picture_is_a_small_png_of_the_whole_table(name, duckdb_built, project):
    frame = duckdb_built.read_df(f"SELECT * FROM {project.model(name).relation}")
    assert frame["organization_id"].nunique() > 1  # several organizations in one picture
    png = PICTURES[name](frame)
    assert png.startswith(PNG_MAGIC)
    assert 2_000 < len(png) < 100_000


@pytest.mark.parametrize("name", sorted(PICTURES))
def test_picture_of_an_empty_table_says_so(name, project):
    columns = [c.name for c in project.model(name).columns]
    png = PICTURES[name](pd.DataFrame(columns=columns))
    assert png.startswith(PNG_MAGIC)
