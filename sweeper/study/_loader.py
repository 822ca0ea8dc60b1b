"""Loading a study file: one ``sweeper.Study``, or one clear error."""

from __future__ import annotations

import sys
import traceback
import types
from pathlib import Path

from sweeper._errors import StudyFileError
from sweeper.study._study import Study


def load_study_file(path: str | Path) -> Study:
    """Runs a study file and returns the one ``sweeper.Study`` it defines.

    Args:
        path: The study file.

    Returns:
        The study.

    Raises:
        StudyFileError: For a missing or non-Python file, a syntax error, an error
            while running it, or not exactly one Study in it; the message names the
            file and, where known, the line.
    """
    path = Path(path)
    source = _read_source(path)
    code = _compile(source, path)
    module = types.ModuleType(f"sweeper_study_{path.stem}")
    module.__file__ = str(path.resolve())
    # Registered so that pickling and dataclasses can find the module's objects.
    sys.modules[module.__name__] = module
    # As `python study.py` would: the study's folder is importable, for its helper modules.
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    try:
        exec(code, module.__dict__)
    except StudyFileError as error:
        raise error.with_source(location_in(path, error)) from None
    except Exception as error:
        raise StudyFileError(
            f"running the study file raised {type(error).__name__}: {error}",
            source=location_in(path, error),
            fix="fix the code at that line.",
        ) from None
    return _the_study(module, path)


def check_study_file(path: str | Path) -> Path:
    """Checks that a study file exists and parses, without running it.

    Args:
        path: The study file.

    Returns:
        The path.

    Raises:
        StudyFileError: For a missing or non-Python file, or a syntax error.
    """
    path = Path(path)
    _compile(_read_source(path), path)
    return path


def _read_source(path: Path) -> str:
    if not path.exists():
        raise StudyFileError("no such file.", source=str(path), fix="pass the path of a study .py file.")
    if path.is_dir() or path.suffix != ".py":
        raise StudyFileError(
            "not a Python study file.", source=str(path), fix="pass a .py file that defines a sweeper.Study."
        )
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise StudyFileError(
            f"cannot be read: {error}", source=str(path), fix="pass a readable UTF-8 .py file."
        ) from None


def _compile(source: str, path: Path) -> types.CodeType:
    try:
        return compile(source, str(path), "exec")
    except SyntaxError as error:
        raise StudyFileError(
            f"syntax error: {error.msg}", source=f"{path}:{error.lineno}", fix="fix the Python syntax at that line."
        ) from None


def location_in(path: Path, error: BaseException) -> str:
    """``file:line`` of the deepest frame inside the study file."""
    resolved = str(path.resolve())
    line = None
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename in (str(path), resolved):
            line = frame.lineno
    return f"{path}:{line}" if line else str(path)


def _the_study(module: types.ModuleType, path: Path) -> Study:
    studies = {id(v): (k, v) for k, v in vars(module).items() if isinstance(v, Study)}
    if not studies:
        raise StudyFileError(
            "defines no sweeper.Study.", source=str(path), fix="add `study = sweeper.Study(...)` at module level."
        )
    if len(studies) > 1:
        names = ", ".join(sorted(name for name, _ in studies.values()))
        raise StudyFileError(
            f"defines {len(studies)} studies ({names}).",
            source=str(path),
            fix="keep exactly one sweeper.Study per file.",
        )
    return next(iter(studies.values()))[1]
