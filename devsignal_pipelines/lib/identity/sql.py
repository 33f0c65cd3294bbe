"""Portable SQL expressions for identity resolution: the same text runs on DuckDB and PostgreSQL.

Only functions both engines have are used (lower, translate, replace, regexp_replace with the 'g'
flag, position, md5, substr, rtrim, to_json, ||), so normalization happens inside the warehouse,
set-based, with no extension (PostgreSQL's unaccent may not be installed) and no per-row Python.
`lib.identity` mirrors each expression in Python; the tests hold the two to the same answers.

No literal here contains `:word` (SQLAlchemy would take it for a bind parameter; `quote` splices
such colons in) or `::`.
"""

from __future__ import annotations

import json
import re

from devsignal_pipelines.lib.identity.rules import (
    ACCENT_MAP,
    MULTI_CHAR,
    UNDECOMPOSABLE,
    URL_HOST_PATTERN,
    URL_KEY_PATTERN,
)


def quote(text: str) -> str:
    """A SQL string literal; a ':' before a word character is spliced in with chr(58), because
    SQLAlchemy's text() would take ':word' for a bind parameter even inside a literal."""
    literal = "'" + text.replace("'", "''") + "'"
    return re.sub(r":(?=\w)", "' || chr(58) || '", literal)


def _translate(text: str, mapping: dict[str, str]) -> str:
    return f"translate({text}, {quote(''.join(mapping))}, {quote(''.join(mapping.values()))})"


def fold_accents_sql(column: str, dialect: str) -> str:
    """lib.identity.fold_accents in SQL; the one expression that differs between the engines.

    DuckDB strips marks natively (strip_accents). PostgreSQL's unaccent extension may not be
    installed, so it maps every Latin letter with translate(). A ~400-letter translate() costs
    15-20 s per million rows on either engine, so name_key_sql calls this only for names that
    are not plain ASCII.
    """
    text = column
    for source, target in MULTI_CHAR.items():
        text = f"replace({text}, {quote(source)}, {quote(target)})"
    if dialect == "duckdb":
        return _translate(f"strip_accents({text})", UNDECOMPOSABLE)
    return _translate(text, ACCENT_MAP)


def _key_chars(text: str) -> str:
    text = f"regexp_replace({text}, '[^a-z0-9 ]', '', 'g')"
    return f"trim(regexp_replace({text}, ' +', ' ', 'g'))"


def name_key_sql(column: str, dialect: str) -> str:
    """Normalized full name (lib.identity.normalize_name): folded accents, lower case, only
    [a-z0-9 ], single spaces, trimmed; '' for NULL.

    Most names take a shortcut: already clean once lower-cased (no regexp at all), or plain
    ASCII (no accent folding). Every branch gives what the full expression would.
    """
    lowered = f"lower({column})"
    return (
        f"coalesce(CASE WHEN {lowered} SIMILAR TO '[a-z0-9]+( [a-z0-9]+)*' THEN {lowered} "
        f"WHEN {column} SIMILAR TO '[ -~]*' THEN {_key_chars(lowered)} "
        f"ELSE {_key_chars(f'lower({fold_accents_sql(column, dialect)})')} END, '')"
    )


def is_full_name_sql(key: str) -> str:
    """Two words or more, the first and last at least two characters long ('ada l' is not)."""
    return f"(position(' ' IN {key}) > 2 AND {key} NOT LIKE '% _')"


def url_host_sql(column: str) -> str:
    """Host of a URL: no scheme, user info, `www.`, port, path or trailing dot; lower case."""
    host = f"regexp_replace(lower(trim({column})), {quote(URL_HOST_PATTERN)}, '\\4')"
    return f"rtrim({host}, '.')"


def url_key_sql(column: str) -> str:
    """A URL without scheme, `www.`, query, fragment and trailing slash; lower case."""
    key = f"regexp_replace(lower(trim({column})), {quote(URL_KEY_PATTERN)}, '\\3')"
    return f"rtrim({key}, '/')"


def suffix_sql(host: str, labels: int) -> str:
    """`host` without its first `labels` labels (blog.acme.io, 1 -> acme.io)."""
    if labels == 0:
        return host
    return f"regexp_replace({host}, '^([^.]+[.]){{{labels}}}', '')"


def email_sql(column: str) -> str:
    """SELECT-list items `local_part, domain` of the last '@' in a free text (a bio).

    Plain position/substr arithmetic, no backtracking regexp: about 1 microsecond a row.
    Callers keep rows whose local part is not empty and whose domain has a dot.
    """
    text = f"replace(replace(lower({column}), chr(10), ' '), chr(13), ' ')"
    at = f"(length({text}) - position('@' IN reverse({text})) + 1)"
    before = (
        f"reverse(regexp_replace(reverse(substr({text}, 1, {at} - 1)), '[^a-z0-9._+-].*$', ''))"
    )
    after = f"rtrim(regexp_replace(substr({text}, {at} + 1), '[^a-z0-9.-].*$', ''), '.')"
    return f"{before} AS local_part, {after} AS domain"


def contact_hash_sql(organization_param: str, platform: str, user_id: str) -> str:
    """md5 hex of 'devsignal-contact:<org>:<platform>:<id>' (see contact_id_sql)."""
    colon = quote(":")  # never glued to a word: ':twitter' would read as a bind parameter
    return (
        f"md5('devsignal-contact' || {colon} || {organization_param} || {colon} || "
        f"{quote(platform)} || {colon} || {user_id})"
    )


def uuid_layout_sql(digest: str) -> str:
    """32 hex digits laid out as a UUID (8-4-4-4-12)."""
    parts = [(1, 8), (9, 4), (13, 4), (17, 4), (21, 12)]
    return " || '-' || ".join(f"substr({digest}, {start}, {length})" for start, length in parts)


def contact_id_sql(organization_param: str, platform: str, user_id: str) -> str:
    """The deterministic new-contact id (lib.identity.new_contact_id), computed in SQL."""
    return uuid_layout_sql(contact_hash_sql(organization_param, platform, user_id))


def json_constant(value: dict) -> str:
    """A JSON object as the text json_object_sql would build for constant values."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def json_text(value: str) -> str:
    """A value as JSON text ('null' for NULL); to_json exists on both engines."""
    return f"coalesce(CAST(to_json({value}) AS TEXT), 'null')"


def json_object_sql(fields: dict[str, str]) -> str:
    """A JSON object built by concatenation, keys sorted like lib.json_frames writes them.

    Portable where json_object (DuckDB) / jsonb_build_object (PostgreSQL) are not.
    """
    items = sorted(fields.items())
    parts = [
        quote(("{" if i == 0 else ",") + f'"{key}":') + " || " + json_text(value)
        for i, (key, value) in enumerate(items)
    ]
    return "(" + " || ".join(parts) + " || '}')" if parts else "'{}'"
