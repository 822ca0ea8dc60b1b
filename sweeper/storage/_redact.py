"""Naming a storage without leaking its secrets: passwords in URLs become ``***``."""

from __future__ import annotations

import re

_PASSWORD_IN_URL = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)(?P<secret>[^@\s]*)(?P<tail>@)")


def redact(text: str) -> str:
    """Replaces any password in a URL inside ``text`` with ``***``."""
    return _PASSWORD_IN_URL.sub(r"\g<head>***\g<tail>", text)
