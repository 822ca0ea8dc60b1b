"""What a study file declares as plain literals, read without running it (no framework import)."""

from __future__ import annotations

import ast
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sweeper._errors import StudyFileError
from sweeper.study._study import Study

# The fields worth knowing before any worker starts; only literal values are read.
_PEEKED = ("name", "n_trials", "epoch_budget")


@dataclass(frozen=True)
class StudyPeek:
    """Fields of a study file's ``Study(...)`` call, where they are literals.

    Args:
        name: The study's name, or ``None`` when it is computed.
        n_trials: Its ``n_trials`` (the default when not given), or ``None`` when computed.
        epoch_budget: Its ``epoch_budget`` (``None`` as well when not given).
    """

    name: str | None = None
    n_trials: int | None = None
    epoch_budget: int | None = None


def peek_study_file(path: Path) -> StudyPeek:
    """Reads the literal fields of the one ``Study(...)`` call in a study file, without running it.

    Args:
        path: The study file.

    Returns:
        What could be read; an empty peek when there is not exactly one such call,
        or it takes ``**kwargs``.

    Raises:
        StudyFileError: For a missing file or a syntax error.
    """
    if not path.exists():
        raise StudyFileError("no such file.", source=str(path), fix="pass a study file or a study name.")
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except SyntaxError as error:
        raise StudyFileError(
            f"syntax error: {error.msg}", source=f"{path}:{error.lineno}", fix="fix the syntax."
        ) from None
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call) and _called_name(node) == "Study"]
    if len(calls) != 1 or any(keyword.arg is None for keyword in calls[0].keywords):
        return StudyPeek()
    given = {keyword.arg: keyword.value for keyword in calls[0].keywords}
    defaults = {f.name: f.default for f in dataclasses.fields(Study)}
    return StudyPeek(**{field: _literal(given[field]) if field in given else defaults[field] for field in _PEEKED})


def _called_name(call: ast.Call) -> str | None:
    return getattr(call.func, "attr", getattr(call.func, "id", None))


def _literal(node: ast.expr) -> Any:
    """A constant's value, or ``None`` for anything computed."""
    return node.value if isinstance(node, ast.Constant) else None
