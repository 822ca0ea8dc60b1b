"""Checking the numbers a user passes on the command line or to the API, before any worker starts."""

from __future__ import annotations

from typing import Any

from sweeper._errors import StudyFileError


def positive_option(option: str, value: Any) -> int:
    """``value`` if it is a positive integer.

    Args:
        option: The option's name, for the message, e.g. ``"--jobs"``.
        value: What the user passed.

    Returns:
        The value.

    Raises:
        StudyFileError: Naming the option and an example.
    """
    return _integer_option(option, value, minimum=1, kind="a positive integer", example=2)


def whole_number_option(option: str, value: Any) -> int:
    """``value`` if it is an integer of 0 or more.

    Args:
        option: The option's name, for the message, e.g. ``"--retries"``.
        value: What the user passed.

    Returns:
        The value.

    Raises:
        StudyFileError: Naming the option and an example.
    """
    return _integer_option(option, value, minimum=0, kind="a whole number, 0 or more", example=1)


def _integer_option(option: str, value: Any, *, minimum: int, kind: str, example: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise StudyFileError(f"{option}={value!r} must be {kind}.", fix=f"e.g. {option} {example}.")
    return value


def seconds_option(option: str, value: Any) -> float | None:
    """``value`` if it is ``None`` or a positive number of seconds.

    Args:
        option: The option's name, for the message, e.g. ``"--trial-timeout"``.
        value: What the user passed.

    Returns:
        The value, as a float.

    Raises:
        StudyFileError: Naming the option and an example.
    """
    if value is None:
        return None
    kind = "a positive number of seconds"
    return _number_option(option, value, minimum=0.0, inclusive=False, kind=kind, example=3600)


def fail_fast_option(value: Any) -> int | None:
    """The fail-fast limit; ``0`` and ``None`` turn fail-fast off.

    Args:
        value: What the user (or the study) passed.

    Returns:
        The limit, or ``None`` for never.
    """
    if value is None or value == 0:
        return None
    return positive_option("--fail-fast", value)


def gigabytes_option(option: str, value: Any) -> float:
    """``value`` if it is a number of GB, 0 or more.

    Args:
        option: The option's name, for the message, e.g. ``"--min-free-gb"``.
        value: What the user passed.

    Returns:
        The value, as a float.

    Raises:
        StudyFileError: Naming the option and an example.
    """
    return _number_option(option, value, minimum=0.0, inclusive=True, kind="a number of GB, 0 or more", example=1)


def _number_option(option: str, value: Any, *, minimum: float, inclusive: bool, kind: str, example: int) -> float:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or not (value >= minimum if inclusive else value > minimum):
        shown = f"{value:g}" if isinstance(value, float) else repr(value)
        raise StudyFileError(f"{option}={shown} must be {kind}.", fix=f"e.g. {option} {example}.")
    return float(value)
