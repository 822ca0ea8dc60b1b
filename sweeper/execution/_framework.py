"""Which Keras backend the workers will run, and whether its framework is installed, known without importing it.

A missing framework otherwise surfaces as every worker dying at its first import,
after a traceback each; checked here, before any worker starts, it is one line.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

from sweeper._errors import StudyFileError

# Keras's own default, when neither KERAS_BACKEND nor keras.json names one.
DEFAULT_BACKEND = "tensorflow"
# The importable package each Keras backend needs.
FRAMEWORKS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch", "numpy": "numpy", "openvino": "openvino"}
INSTALL_HINTS = {
    "tensorflow": "pip install 'sweeper[cpu]' (or 'sweeper[gpu]' for CUDA)",
    "jax": "pip install 'sweeper[jax]'",
    "torch": "pip install torch",
    "openvino": "pip install openvino",
}


def keras_backend(environ: dict[str, str] | None = None) -> str:
    """The Keras backend by Keras's own rule: ``KERAS_BACKEND``, else ``keras.json``'s, else TensorFlow.

    Args:
        environ: The environment to read. Defaults to ``os.environ``.

    Returns:
        The backend's name, e.g. ``"tensorflow"``.
    """
    environ = os.environ if environ is None else environ
    if environ.get("KERAS_BACKEND"):
        return environ["KERAS_BACKEND"]
    keras_home = Path(environ.get("KERAS_HOME") or Path.home() / ".keras")
    try:
        configured = json.loads((keras_home / "keras.json").read_text()).get("backend")
    except (OSError, ValueError, AttributeError):
        return DEFAULT_BACKEND
    return configured if isinstance(configured, str) and configured else DEFAULT_BACKEND


def check_framework(environ: dict[str, str] | None = None) -> str:
    """Checks, without importing anything, that the workers can import their frameworks.

    Only the backend's own framework is needed: without TensorFlow, the TensorBoard
    callback writes its event files with the ``tensorboard`` package alone.

    Args:
        environ: The environment to read. Defaults to ``os.environ``.

    Returns:
        The Keras backend.

    Raises:
        StudyFileError: Naming the backend, the missing package and how to install it.
    """
    environ = os.environ if environ is None else environ
    backend = keras_backend(environ)
    named = f"KERAS_BACKEND is {backend!r}" if environ.get("KERAS_BACKEND") else f"the Keras backend is {backend!r}"
    if backend not in FRAMEWORKS:
        raise StudyFileError(
            f"{named}, which Keras 3 does not have.",
            fix=f"use one of {sorted(FRAMEWORKS)}, e.g. KERAS_BACKEND=tensorflow.",
        )
    needed = FRAMEWORKS[backend]
    if not is_installed(needed):
        raise StudyFileError(_missing(named, needed), fix=f"{INSTALL_HINTS.get(needed, 'install it')}.")
    return backend


def framework_imported(environ: dict[str, str] | None = None) -> bool:
    """Whether the Keras backend's framework is already imported in this process (too late to configure it)."""
    return FRAMEWORKS.get(keras_backend(environ), "") in sys.modules


def is_installed(package: str) -> bool:
    """Whether ``package`` can be found, without importing it; a broken install counts as missing."""
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def _missing(named: str, needed: str) -> str:
    name = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}.get(needed, needed)
    return f"{named} but {name} is not installed."
