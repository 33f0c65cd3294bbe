"""JSON columns for DataFrames: one serializer so every table writes JSON the same way."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

# Sorted keys: the same object always gives the same text, so DuckDB (which compares JSON as
# text) and PostgreSQL (JSONB) agree on whether a re-fetched record changed.
_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True, default=str)


def dumps_column(values: Iterable[Any]) -> list[str | None]:
    """Serialize each value to compact JSON text (None stays NULL)."""
    encode = _encoder.encode
    return [None if v is None else encode(v) for v in values]
