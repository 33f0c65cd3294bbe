"""Query parameters of the GitHub list endpoints, page selection and the ``Link`` header.

* ``per_page`` defaults to 30 and is capped at 100 (a larger value gives 100, as on GitHub; a
  value that is not a positive number gives the default); ``page`` counts from 1 (anything else
  is page 1). Page p is items ``[(p-1)*per_page, p*per_page)`` of the listing AT THE TIME OF THE
  REQUEST; a page past the end is an empty list.
* ``Link`` (omitted when everything fits on one page, as GitHub does) has, in GitHub's order,
  ``prev`` and ``next`` when they exist, ``last`` and ``first`` when not on that page. URLs are
  absolute on the host the request came to, keep every query parameter of the request and set
  ``page``.
* Enumerations (``state``, ``sort``, ``direction``) and ``since`` (ISO 8601, e.g.
  ``2025-03-01T00:00:00Z``; a date or an offset is accepted too) that GitHub cannot read are
  422 "Validation Failed" naming the field; ``since`` compares at whole seconds, inclusive.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100


class ValidationFailed(ValueError):
    """A parameter GitHub would refuse: 422 with ``errors[{resource, field, code}]``."""

    def __init__(self, resource: str, field: str) -> None:
        super().__init__(f"{resource}.{field}")
        self.resource = resource
        self.field = field


@dataclass(frozen=True)
class PageRequest:
    page: int
    per_page: int

    def select(self, items: list) -> list:
        start = (self.page - 1) * self.per_page
        return items[start : start + self.per_page]

    def pages(self, total: int) -> int:
        return max(1, math.ceil(total / self.per_page))


def page_request(params: Mapping[str, str]) -> PageRequest:
    return PageRequest(
        page=_positive(params.get("page"), 1, None),
        per_page=_positive(params.get("per_page"), DEFAULT_PER_PAGE, MAX_PER_PAGE),
    )


def choice(
    params: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str, resource: str
) -> str:
    value = params.get(name, default)
    if value not in allowed:
        raise ValidationFailed(resource, name)
    return value


def since(params: Mapping[str, str], resource: str) -> str | None:
    """``since`` as a GitHub timestamp, rounded up to the second (items at or after it pass)."""
    raw = params.get("since")
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise ValidationFailed(resource, "since") from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if moment.microsecond:
        moment = moment.replace(microsecond=0) + timedelta(seconds=1)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def link_rels(page: int, last: int) -> dict[str, int]:
    """rel -> page number for page ``page`` of ``last`` pages (none when there is one page)."""
    if last <= 1 and page <= 1:
        return {}
    rels: dict[str, int] = {}
    if page > 1:
        rels["prev"] = page - 1
    if page < last:
        rels["next"] = page + 1
        rels["last"] = last
    if page > 1:
        rels["first"] = 1
    return rels


def link_header(base_url: str, path: str, query: list[tuple[str, str]], rels: dict[str, int]):
    """``<url>; rel="next", ...`` with ``page`` set in each URL, or None without rels."""
    if not rels:
        return None
    kept = [(name, value) for name, value in query if name != "page"]
    parts = [
        f'<{base_url}{path}?{urlencode([*kept, ("page", str(page))])}>; rel="{rel}"'
        for rel, page in rels.items()
    ]
    return ", ".join(parts)


def _positive(raw: str | None, default: int, most: int | None) -> int:
    if raw is None or not (raw.isascii() and raw.strip().isdigit()) or int(raw) < 1:
        return default
    return min(int(raw), most) if most is not None else int(raw)
