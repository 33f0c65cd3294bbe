"""Jinja2 rendering of a model with dbt's functions: ref, source, config, var, this, is_incremental.

A model is rendered twice: once at load time to learn its dependencies and config (with
is_incremental() false), and once per run with the real relations and run state.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2

from devsignal_pipelines.lib.sql_models.errors import ModelError

_ENV = jinja2.Environment(
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,
)

MATERIALIZATIONS = ("table", "view", "incremental")
_CONFIG_KEYS = {"materialized", "unique_key", "full_refresh", "tags", "postgres_settings"}


@dataclass
class RenderState:
    """What a rendering needs (relations, run state) and what it found (refs, sources, config)."""

    resolve_ref: Callable[[str], str]
    resolve_source: Callable[[str, str], str]
    this: str
    variables: Mapping[str, Any]
    as_of: datetime
    incremental: bool = False
    refs: list[str] = field(default_factory=list)
    sources: list[tuple[str, str]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)


def _sql_timestamp(moment: datetime) -> str:
    return f"CAST('{moment.isoformat(sep=' ')}' AS TIMESTAMPTZ)"


def render(path: Path, text: str, state: RenderState) -> str:
    """Render one model's SQL; any problem becomes a ModelError naming the file and line."""

    def ref(name: str) -> str:
        state.refs.append(name)
        return state.resolve_ref(name)

    def source(schema: str, table: str) -> str:
        state.sources.append((schema, table))
        return state.resolve_source(schema, table)

    def config(**kwargs: Any) -> str:
        unknown = set(kwargs) - _CONFIG_KEYS
        if unknown:
            raise ModelError(
                f"config() does not know {sorted(unknown)}; use {sorted(_CONFIG_KEYS)}"
            )
        state.config.update(kwargs)
        return ""

    def var(name: str, default: Any = jinja2.Undefined) -> Any:
        if name in state.variables:
            return state.variables[name]
        if default is not jinja2.Undefined:
            return default
        raise ModelError(
            f"var({name!r}) is not set: add it under `vars:` in dbt_like_sql/project.yml"
        )

    try:
        code = _ENV.compile(text, name=path.name, filename=str(path))
        template = _ENV.template_class.from_code(_ENV, code, _ENV.make_globals(None))
        return template.render(
            ref=ref,
            source=source,
            config=config,
            var=var,
            this=state.this,
            is_incremental=lambda: state.incremental,
            as_of=lambda: _sql_timestamp(state.as_of),
        )
    except jinja2.TemplateSyntaxError as exc:
        raise ModelError(f"Jinja syntax error: {exc.message}", path, exc.lineno) from exc
    except ModelError as exc:
        if exc.path is not None:
            raise
        raise ModelError(str(exc), path, _template_line(exc, path)) from exc
    except jinja2.TemplateError as exc:
        raise ModelError(f"Jinja error: {exc}", path, _template_line(exc, path)) from exc


def _template_line(exc: BaseException, path: Path) -> int | None:
    """The model line Jinja was rendering when `exc` was raised (Jinja maps its frames to it)."""
    lines = [
        frame.lineno
        for frame in traceback.extract_tb(exc.__traceback__)
        if frame.filename == str(path)
    ]
    return lines[-1] if lines else None
