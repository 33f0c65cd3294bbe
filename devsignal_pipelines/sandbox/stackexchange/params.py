"""The query parameters Stack Exchange API 2.3 methods share, and how a listing is paged.

Semantics (as documented for the real API):

* ``sort`` picks the field; ``order`` is ``desc`` (default) or ``asc``; ties are broken by the
  item's id in the same direction, so the order is total and paging is stable.
* ``min`` / ``max`` bound the SORT field, inclusive (epoch seconds for date sorts, a score for
  ``votes``, a string for ``name``); ``fromdate`` / ``todate`` bound ``creation_date``, inclusive.
* ``page`` counts from 1 and ``pagesize`` is 1..100 (default 30): page p is items
  ``[(p-1)*pagesize, p*pagesize)`` of the listing AT THE TIME OF THE REQUEST, and ``has_more``
  says whether any item is after it. A page past the end is empty with ``has_more: false``.

A bad value is a ``ParameterError`` naming the parameter, which the API turns into the real
``bad_parameter`` error whose ``error_message`` is the bare parameter name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 30
MAX_IDS = 100
MAX_TAGS = 5
_MAX_DATE = 253_402_300_799  # the API's documented upper bound for dates


class ParameterError(ValueError):
    """A refused parameter; ``message`` is what goes in ``error_message``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Listing:
    """How to sort, bound and page one method's collection."""

    sort: str
    descending: bool
    low: int | str | None  # min, on the sort field
    high: int | str | None  # max, on the sort field
    from_date: int | None  # on creation_date
    to_date: int | None
    page: int
    page_size: int

    def select(self, rows: Sequence[tuple]) -> tuple[list[Any], bool]:
        """Page ``rows`` = ``(sort value, id, created, payload)`` sorted ascending.

        Returns the payloads of the page and ``has_more``.
        """
        kept = [
            row
            for row in rows
            if (self.low is None or row[0] >= self.low)
            and (self.high is None or row[0] <= self.high)
            and (self.from_date is None or row[2] >= self.from_date)
            and (self.to_date is None or row[2] <= self.to_date)
        ]
        if self.descending:
            kept.reverse()
        start = (self.page - 1) * self.page_size
        page = kept[start : start + self.page_size]
        return [row[3] for row in page], start + self.page_size < len(kept)


def parse_listing(
    params: Mapping[str, str], sorts: tuple[str, ...], text_sorts: tuple[str, ...] = ()
) -> Listing:
    """``sorts[0]`` is the default sort; ``text_sorts`` compare ``min``/``max`` as strings."""
    sort = params.get("sort", sorts[0])
    if sort not in sorts:
        raise ParameterError("sort")
    order = params.get("order", "desc")
    if order not in ("desc", "asc"):
        raise ParameterError("order")
    bound = _text if sort in text_sorts else _integer
    return Listing(
        sort=sort,
        descending=order == "desc",
        low=bound(params, "min"),
        high=bound(params, "max"),
        from_date=_date(params, "fromdate"),
        to_date=_date(params, "todate"),
        page=_positive(params, "page", 1, None),
        page_size=_positive(params, "pagesize", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE),
    )


def parse_ids(raw: str) -> list[int] | None:
    """``"1;2;3"`` -> [1, 2, 3] (duplicates dropped); None if any id is not a number, which
    the real API answers with ``no_method``. More than 100 ids is a ``ParameterError``."""
    parts = raw.split(";")
    if not all(part.isascii() and part.isdigit() for part in parts):
        return None
    ids = list(dict.fromkeys(int(part) for part in parts))
    if len(ids) > MAX_IDS:
        raise ParameterError("ids")
    return ids


def parse_tags(params: Mapping[str, str]) -> tuple[str, ...]:
    """``tagged=a;b`` -> ("a", "b"): a question must carry ALL of them (up to 5)."""
    raw = params.get("tagged")
    if raw is None or not raw.strip():
        return ()
    tags = tuple(dict.fromkeys(tag.strip().lower() for tag in raw.split(";") if tag.strip()))
    if len(tags) > MAX_TAGS:
        raise ParameterError("tagged")
    return tags


def _integer(params: Mapping[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ParameterError(name) from None


def _text(params: Mapping[str, str], name: str) -> str | None:
    return params.get(name)


def _date(params: Mapping[str, str], name: str) -> int | None:
    value = _integer(params, name)
    if value is not None and not 0 <= value <= _MAX_DATE:
        raise ParameterError(name)
    return value


def _positive(params: Mapping[str, str], name: str, default: int, most: int | None) -> int:
    value = _integer(params, name)
    if value is None:
        return default
    if value < 1 or (most is not None and value > most):
        raise ParameterError(name)
    return value
