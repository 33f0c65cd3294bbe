"""CRM records as the organization sends them -> one validated frame per kind.

Companies, contacts and deals arrive as JSON objects (`PUT /api/v1/{kind}/{external_id}`, in the
shape a Zapier or Make action step from HubSpot / Salesforce / Pipedrive sends: flat fields, or
HubSpot's `{"id", "properties": {...}}`) or as rows of a file (`devsignal import`). Both go through
`normalize_records`: field names are matched by name and alias (case, spaces and dashes ignored:
`dealstage`, `Deal Stage` and `deal_stage` are one field), values are checked column by column
(vectorized), and every problem is reported with its line and field
(`line 812: amount "12k" is not a number`). Fields nobody maps are kept as `properties`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from devsignal_pipelines.lib.identity.rules import is_free_domain

KINDS = ("companies", "contacts", "deals")
MAX_TEXT = 300
MAX_ID = 255


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # id | text | int | number | timestamp | email | domain | twitter | github | digits | currency
    aliases: tuple[str, ...] = ()
    description: str = ""


FIELDS: dict[str, tuple[Field, ...]] = {
    "companies": (
        Field("external_id", "id", ("id", "hs_object_id", "company_id", "record_id"), "the CRM's id of the company (required)"),
        Field("name", "text", ("company_name", "company"), "company name"),
        Field("domain", "domain", ("website", "domain_name", "company_domain"), "web domain or website URL"),
        Field("description", "text", ("about",), "free text"),
        Field("plan", "text", ("tier", "subscription"), "the plan the account is on"),
        Field("employees", "int", ("numberofemployees", "employee_count", "employees_count", "number_of_employees"), "head count"),
        Field("created_at", "timestamp", ("createdate", "createdat", "created"), "when it entered the CRM (ISO 8601)"),
        Field("updated_at", "timestamp", ("hs_lastmodifieddate", "updatedat", "lastmodifieddate", "modified_at"), "when the CRM last changed it"),
    ),
    "contacts": (
        Field("external_id", "id", ("id", "hs_object_id", "contact_id", "record_id"), "the CRM's id of the contact (required)"),
        Field("email", "email", ("email_address", "work_email"), "email address"),
        Field("full_name", "text", ("name", "fullname"), "full name (or first_name + last_name)"),
        Field("first_name", "text", ("firstname", "given_name"), "first name"),
        Field("last_name", "text", ("lastname", "family_name", "surname"), "last name"),
        Field("title", "text", ("jobtitle", "job_title", "position"), "job title"),
        Field("phone", "text", ("phone_number", "mobilephone"), "phone"),
        Field("company_external_id", "id", ("associatedcompanyid", "account_id", "company_record_id"), "the CRM id of the contact's company"),
        Field("company_domain", "domain", ("company_website",), "the company's domain, when no company id is sent"),
        Field("company_name", "text", ("company", "account_name"), "the company's name (matched only if unique)"),
        Field("twitter", "twitter", ("twitterhandle", "twitter_handle", "twitter_username", "x_handle"), "X handle or profile URL"),
        Field("github", "github", ("github_handle", "github_username", "github_login"), "GitHub login or profile URL"),
        Field("twitter_user_id", "digits", ("x_user_id",), "X's permanent numeric user id"),
        Field("stackoverflow_user_id", "digits", ("so_user_id", "stack_overflow_user_id"), "Stack Overflow's numeric user_id"),
        Field("github_user_id", "digits", ("github_id",), "GitHub's permanent numeric user id"),
        Field("created_at", "timestamp", ("createdate", "createdat", "created"), "when it entered the CRM"),
        Field("updated_at", "timestamp", ("lastmodifieddate", "hs_lastmodifieddate", "updatedat", "modified_at"), "when the CRM last changed it"),
    ),
    "deals": (
        Field("external_id", "id", ("id", "hs_object_id", "deal_id", "record_id"), "the CRM's id of the deal (required)"),
        Field("name", "text", ("dealname", "deal_name", "title"), "deal name"),
        Field("stage", "text", ("dealstage", "deal_stage", "status"), "pipeline stage (required)"),
        Field("amount", "number", ("value", "deal_value"), "deal value, a plain number"),
        Field("currency", "currency", ("deal_currency_code", "currency_code"), "ISO 4217 code, e.g. USD"),
        Field("close_date", "timestamp", ("closedate", "expected_close_date"), "expected or actual close date"),
        Field("pipeline", "text", (), "pipeline name"),
        Field("company_external_id", "id", ("associatedcompanyid", "account_id", "company_record_id", "company_id"), "the CRM id of the company"),
        Field("company_domain", "domain", ("company_website",), "the company's domain, when no company id is sent"),
        Field("created_at", "timestamp", ("createdate", "createdat", "created"), "when the deal was created"),
        Field("updated_at", "timestamp", ("hs_lastmodifieddate", "updatedat", "lastmodifieddate", "modified_at"), "when it last changed: the stage change time"),
    ),
}  # fmt: skip

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$")
_TWITTER = re.compile(r"^[a-z0-9_]{1,15}$", re.I)
_GITHUB = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){0,38}$", re.I)
_URL_PREFIX = re.compile(r"^(?:[a-z][a-z0-9+.-]*://)?(?:www\.)?", re.I)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class RecordError(ValueError):
    """Records that failed validation; `errors` lists (line, field, message)."""

    def __init__(self, kind: str, errors: pd.DataFrame):
        self.kind = kind
        self.errors = errors
        first = errors.iloc[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{kind}: line {first['line']}: {first['message']}{more}")

    def lines(self, limit: int = 20) -> list[str]:
        shown = [f"line {r.line}: {r.message}" for r in self.errors.head(limit).itertuples()]
        if len(self.errors) > limit:
            shown.append(f"... and {len(self.errors) - limit} more problems")
        return shown


def _key(name: str) -> str:
    return re.sub(r"[\s\-.]+", "_", str(name).strip().lower())


def alias_map(kind: str) -> dict[str, str]:
    """Every accepted spelling (normalized) -> the field it fills."""
    mapping: dict[str, str] = {}
    for field in FIELDS[kind]:
        for spelling in (field.name, *field.aliases):
            mapping.setdefault(_key(spelling), field.name)
    return mapping


def id_keys(kind: str, record: Mapping[str, Any]) -> list[str]:
    """The keys of `record` that spell the record's own id (`external_id` or one of its aliases,
    e.g. HubSpot's `hs_object_id`)."""
    aliases = alias_map(kind)
    return [key for key in record if aliases.get(_key(key)) == "external_id"]


def flatten(record: Mapping[str, Any]) -> dict[str, Any]:
    """HubSpot's `{"id", "createdAt", "updatedAt", "properties": {...}}` -> one flat mapping."""
    properties = record.get("properties")
    if not isinstance(properties, Mapping):
        return dict(record)
    flat = {k: v for k, v in record.items() if k != "properties"}
    for key, value in properties.items():
        flat.setdefault(key, value)
    return flat


def normalize_records(
    kind: str,
    records: Iterable[Mapping[str, Any]] | pd.DataFrame,
    *,
    first_line: int = 1,
    lines: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Validated records of `kind`, one row each, typed; raise RecordError listing every problem.

    `lines` numbers the records for error messages (file line numbers); by default they count
    from `first_line`. Output columns: every field of the kind, `full_name` derived from first and
    last names when missing, `properties` (JSON text of unmapped fields, or None) and `line`.
    """
    if kind not in FIELDS:
        raise ValueError(f"unknown record kind {kind!r}; use one of {', '.join(KINDS)}")
    raw = (
        records
        if isinstance(records, pd.DataFrame)
        else pd.DataFrame.from_records([flatten(r) for r in records])
    )
    line_numbers = (
        pd.Series(list(lines), dtype="int64")
        if lines is not None
        else pd.Series(range(first_line, first_line + len(raw)), dtype="int64")
    )
    raw = raw.reset_index(drop=True)
    aliases = alias_map(kind)
    columns: dict[str, pd.Series] = {}
    unmapped: list[str] = []
    for column in raw.columns:
        target = aliases.get(_key(column))
        if target is None:
            unmapped.append(column)
        elif target in columns:  # an earlier spelling wins where it has a value
            columns[target] = columns[target].where(_present(columns[target]), raw[column])
        else:
            columns[target] = raw[column]
    frame = pd.DataFrame(
        {
            f.name: columns.get(f.name, pd.Series([None] * len(raw), dtype=object))
            for f in FIELDS[kind]
        }
    )
    frame["properties"] = _properties(raw, unmapped)
    frame["line"] = line_numbers.to_numpy()
    errors: list[pd.DataFrame] = []
    for field in FIELDS[kind]:
        frame[field.name], problems = _check(field, frame[field.name])
        if problems is not None:
            errors.append(
                pd.DataFrame(
                    {
                        "line": frame.loc[problems.index, "line"],
                        "field": field.name,
                        "message": problems,
                    }
                )
            )
    errors.extend(_record_rules(kind, frame))
    if kind == "contacts":
        derived = (
            frame["first_name"]
            .fillna("")
            .str.cat(frame["last_name"].fillna(""), sep=" ")
            .str.strip()
        )
        frame["full_name"] = frame["full_name"].where(
            frame["full_name"].notna(), derived.replace("", None)
        )
    problems = pd.concat(errors, ignore_index=True) if errors else pd.DataFrame()
    if not problems.empty:
        raise RecordError(
            kind, problems.sort_values(["line", "field"], kind="stable", ignore_index=True)
        )
    return frame


def _present(values: pd.Series) -> pd.Series:
    return values.notna() & (values.astype(str).str.strip() != "")


def _properties(raw: pd.DataFrame, unmapped: list[str]) -> pd.Series:
    if not unmapped:
        return pd.Series([None] * len(raw), dtype=object)
    extra = raw[unmapped].astype(object).where(raw[unmapped].notna(), None)
    out = []
    for row in extra.itertuples(index=False, name=None):
        kept = {k: v for k, v in zip(unmapped, row, strict=True) if v is not None and v != ""}
        out.append(json.dumps(kept, sort_keys=True, default=str) if kept else None)
    return pd.Series(out, dtype=object)


def _check(field: Field, values: pd.Series) -> tuple[pd.Series, pd.Series | None]:
    """Normalized values and, for the rows that are wrong, a message each."""
    present = _present(values)
    if not present.any():  # a field nobody sent: nothing to check (most fields, most records)
        if field.kind in ("int", "number"):
            return pd.Series(pd.NA if field.kind == "int" else float("nan"), index=values.index,
                             dtype="Int64" if field.kind == "int" else "float64"), None  # fmt: skip
        if field.kind == "timestamp":
            return pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]"), None
        return pd.Series([None] * len(values), index=values.index, dtype=object), None
    text = values.astype(object).where(present, None)
    text = text.map(lambda v: v if v is None or isinstance(v, str) else _plain(v))
    stripped = text.where(text.isna(), text.str.strip())
    bad = pd.Series(False, index=values.index)
    quoted = stripped.map(lambda v: json.dumps(v, ensure_ascii=False)[:80] if v is not None else "")
    message = pd.Series("", index=values.index, dtype=object)

    def fail(mask: pd.Series, why: str) -> None:
        nonlocal bad
        new = mask & ~bad
        message[new] = f"{field.name} " + quoted[new] + f" {why}"
        bad = bad | new

    if field.kind in ("id", "text", "currency"):
        limit = MAX_ID if field.kind == "id" else MAX_TEXT
        fail(stripped.str.len().gt(limit).fillna(False), f"is longer than {limit} characters")
        fail(
            stripped.str.contains(_CONTROL, na=False) & (field.kind == "id"),
            "contains control characters",
        )
        result = stripped
        if field.kind == "currency":
            result = stripped.str.upper()
            fail(
                ~result.str.fullmatch(r"[A-Z]{3}", na=True),
                "is not a 3-letter currency code (ISO 4217)",
            )
    elif field.kind in ("int", "number"):
        numbers = pd.to_numeric(stripped, errors="coerce")
        fail(present & numbers.isna(), "is not a number")
        if field.kind == "int":
            fail(
                present & numbers.notna() & ((numbers % 1 != 0) | (numbers < 0)),
                "is not a whole number >= 0",
            )
            result = numbers.astype("Int64") if not bad.any() else numbers
        else:
            fail(present & numbers.notna() & ~numbers.between(-1e15, 1e15), "is out of range")
            result = numbers.astype("float64")
    elif field.kind == "timestamp":
        stamps = pd.to_datetime(stripped, errors="coerce", utc=True, format="ISO8601")
        fail(present & stamps.isna(), "is not an ISO 8601 date or time (e.g. 2026-03-01T12:00:00Z)")
        result = stamps
    elif field.kind == "email":
        lowered = stripped.str.lower()
        fail(present & ~lowered.str.fullmatch(_EMAIL, na=False), "is not an email address")
        fail(lowered.str.len().gt(320).fillna(False), "is longer than 320 characters")
        result = lowered
    elif field.kind == "domain":
        hosts = stripped.str.lower().str.replace(_URL_PREFIX, "", regex=True)
        hosts = hosts.str.split(r"[/?#:]", n=1, regex=True).str[0].str.rstrip(".")
        fail(present & ~hosts.str.fullmatch(_HOST, na=False), "is not a domain or website URL")
        result = hosts
    elif field.kind in ("twitter", "github"):
        site = r"(?:twitter\.com|x\.com)/" if field.kind == "twitter" else r"github\.com/"
        handles = stripped.str.replace(_URL_PREFIX, "", regex=True)
        handles = handles.str.replace(rf"^{site}", "", regex=True, case=False).str.lstrip("@")
        handles = handles.str.split(r"[/?#]", n=1, regex=True).str[0]
        pattern = _TWITTER if field.kind == "twitter" else _GITHUB
        label = "an X handle" if field.kind == "twitter" else "a GitHub login"
        fail(present & ~handles.str.fullmatch(pattern, na=False), f"is not {label}")
        result = handles
    elif field.kind == "digits":
        fail(present & ~stripped.str.fullmatch(r"[0-9]{1,20}", na=False), "is not a numeric id")
        result = stripped
    else:  # pragma: no cover - a Field with an unknown kind is a programming error
        raise ValueError(f"field {field.name}: unknown kind {field.kind!r}")
    return (result.where(present & ~bad, None) if result.dtype == object else result), (
        message[bad] if bad.any() else None
    )


def _plain(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _record_rules(kind: str, frame: pd.DataFrame) -> list[pd.DataFrame]:
    """The id is required and unique within the records (what a new record needs is the upsert's to check)."""
    out: list[pd.DataFrame] = []
    missing = frame["external_id"].isna()
    if missing.any():
        out.append(_errors(frame, missing, "external_id", "external_id is required (the CRM's id)"))
    dup = frame["external_id"].notna() & frame["external_id"].duplicated(keep="first")
    if dup.any():
        first = frame.drop_duplicates("external_id").set_index("external_id")["line"]
        messages = (
            "external_id "
            + frame.loc[dup, "external_id"].map(json.dumps)
            + (" also on line " + frame.loc[dup, "external_id"].map(first).astype(str))
        )
        out.append(
            pd.DataFrame(
                {"line": frame.loc[dup, "line"], "field": "external_id", "message": messages}
            )
        )
    return out


def _errors(frame: pd.DataFrame, mask: pd.Series, field: str, message: str) -> pd.DataFrame:
    return pd.DataFrame({"line": frame.loc[mask, "line"], "field": field, "message": message})


def work_email_domain(emails: pd.Series) -> pd.Series:
    """The domain of each email when it can name an employer (not gmail.com & co.), else None."""
    domains = emails.str.split("@").str[-1]
    return domains.where(domains.notna() & ~domains.fillna("").map(is_free_domain), None)
