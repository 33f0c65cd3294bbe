"""The one error type of the model layer: it names the file (and line) and says what to do."""

from __future__ import annotations

from pathlib import Path


class ModelError(ValueError):
    """A model that cannot be loaded, compiled or built."""

    def __init__(self, message: str, path: Path | None = None, line: int | None = None):
        self.path = path
        self.line = line
        where = f"{path}:{line}: " if path and line else f"{path}: " if path else ""
        super().__init__(where + message)
