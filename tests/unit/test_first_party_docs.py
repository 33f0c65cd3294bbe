"""docs/first_party.md stays true to the code: every field, alias and built-in event name."""

from __future__ import annotations

import re

import pytest

from devsignal_pipelines.lib.sources.crm.records import FIELDS
from devsignal_pipelines.lib.sources.events.mapping import BUILTIN_EVENT_SIGNALS
from tests.conftest import REPO_ROOT

DOC = (REPO_ROOT / "docs" / "first_party.md").read_text()
FIELD_TABLE = DOC[DOC.index("### Fields") : DOC.index("## `devsignal import`")]


@pytest.mark.parametrize(
    "spelling",
    sorted({s for fields in FIELDS.values() for f in fields for s in (f.name, *f.aliases)}),
)
def test_every_record_field_and_alias_is_documented(spelling: str) -> None:
    assert re.search(rf"`{re.escape(spelling)}`", FIELD_TABLE, re.IGNORECASE), spelling


@pytest.mark.parametrize("event", sorted(BUILTIN_EVENT_SIGNALS))
def test_every_built_in_event_name_is_documented_with_its_signal_type(event: str) -> None:
    names = " ".join(
        DOC[DOC.index("Built-in event names") : DOC.index("Change them per organization")].split()
    )
    assert f"`{event}`" in names
    assert f"`{BUILTIN_EVENT_SIGNALS[event]}`" in names
