"""A running trial's progress file: its name, writing it atomically, and reading it back.

Keras-free, so that ``sweeper status`` and the driver's live view read progress
files without importing TensorFlow; ``callbacks/_progress_file.py`` writes them
from inside a fit.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sweeper.callbacks._temp_files import temp_path_for

# Lives at runs/<study>/trials/<number>/progress.json.
PROGRESS_FILE = "progress.json"


def write_progress(path: Path, record: dict[str, Any]) -> None:
    """Writes ``record`` to ``path`` as JSON, atomically.

    The record goes to a temporary file beside ``path``, then replaces it: a reader
    sees the old record or the new one, never half of one.

    Args:
        path: The progress file.
        record: JSON-serialisable values.

    Raises:
        OSError: When the file cannot be written.
    """
    temp = temp_path_for(path)
    try:
        temp.write_text(json.dumps(record, allow_nan=False))
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def read_progress(path: Path) -> dict[str, Any] | None:
    """The record in a progress file.

    Args:
        path: The progress file.

    Returns:
        The record, or ``None`` when the file is missing, unreadable or not a JSON
        object (a file from something else, or one a full disk cut short).
    """
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return record if isinstance(record, dict) else None
