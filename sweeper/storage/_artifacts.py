"""The Optuna artifact store of a runs folder: kept checkpoints, each on disk once.

Each study keeps its artifacts in ``runs/<study>/artifacts/``, laid out as Optuna's
``FileSystemArtifactStore`` lays them out (one file per artifact id). A kept checkpoint
is hard-linked there, not copied: the trial's ``checkpoints/best.keras`` and the store's
file are one file on disk, and deleting both frees it.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path
from typing import BinaryIO

import optuna
from optuna.artifacts.exceptions import ArtifactNotFound

from sweeper._compat import dashboard_trial_artifact_key, filesystem_artifact_path, set_study_system_attr
from sweeper._errors import StudyFileError

ARTIFACTS_DIRNAME = "artifacts"
# Fixed, so that every process names a trial's checkpoint artifact alike: two workers
# keeping the same checkpoint at once write one artifact, not two.
_NAMESPACE = uuid.UUID("6f1d4b2e-52c4-4a59-9a43-5b1f0c2d7e11")
_ARTIFACT_ID = re.compile(r"^[0-9a-fA-F-]{36}$")


def artifact_dir(runs_dir: str | os.PathLike[str], study_name: str) -> Path:
    """``<runs_dir>/<study>/artifacts``: the study's artifact store."""
    return Path(runs_dir) / study_name / ARTIFACTS_DIRNAME


def check_artifact_dir(path: Path) -> None:
    """Makes sure the artifact store can be written, before any trial runs.

    Args:
        path: The store's folder.

    Raises:
        StudyFileError: Naming the folder and the fix, when it cannot be created or written.
    """
    probe = path / f".write-check-{os.getpid()}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise StudyFileError(
            f"the artifact store {str(path)!r} cannot be written: {error.strerror or error}",
            fix="pass a --runs-dir this user can write to, or fix the folder's permissions.",
        ) from None


def checkpoint_artifact_id(study_name: str, number: int, filename: str) -> str:
    """The artifact id of a trial's checkpoint, the same in every process."""
    return str(uuid.uuid5(_NAMESPACE, f"{study_name}/{number}/{filename}"))


def register_checkpoint(study: optuna.Study, trial_id: int, checkpoint: Path, store: Path, artifact_id: str) -> bool:
    """Links a finished trial's checkpoint into the store and lists it as the trial's artifact.

    Safe against a concurrent :func:`unregister_checkpoint`: if the checkpoint is gone
    once the listing is written, the listing and the link are taken back.

    Args:
        study: The trial's study.
        trial_id: The trial's storage id.
        checkpoint: The checkpoint file.
        store: The study's artifact folder.
        artifact_id: From :func:`checkpoint_artifact_id`.

    Returns:
        Whether the checkpoint is now an artifact.
    """
    target = Path(filesystem_artifact_path(str(store), artifact_id))
    store.mkdir(parents=True, exist_ok=True)
    if not _link(checkpoint, target):
        return False
    key = dashboard_trial_artifact_key(trial_id, artifact_id)
    meta = {"artifact_id": artifact_id, "filename": checkpoint.name, "mimetype": _MIMETYPE, "encoding": None}
    set_study_system_attr(study, key, json.dumps(meta))
    if checkpoint.exists():
        return True
    unregister_checkpoint(study, trial_id, store, artifact_id)  # deleted meanwhile: its deleter came first
    return False


def unregister_checkpoint(study: optuna.Study, trial_id: int, store: Path, artifact_id: str) -> None:
    """Removes a checkpoint's link from the store and its listing from the trial's artifacts."""
    Path(filesystem_artifact_path(str(store), artifact_id)).unlink(missing_ok=True)
    set_study_system_attr(study, dashboard_trial_artifact_key(trial_id, artifact_id), json.dumps(None))


def _link(source: Path, target: Path) -> bool:
    """Hard-links ``source`` at ``target`` (a symlink across file systems); ``False`` if ``source`` is gone."""
    try:
        os.link(source, target)
    except FileExistsError:
        return True  # another process kept it first: the same id names the same file
    except FileNotFoundError:
        return False
    except OSError:
        try:
            target.symlink_to(source.resolve())
        except FileExistsError:
            return True
    return True


# Keras's .keras and .h5 files have no registered MIME type; a download needs none.
_MIMETYPE = "application/octet-stream"


class RunsArtifactStore:
    """An Optuna ``ArtifactStore`` over every study's artifact folder in a runs folder.

    One optuna-dashboard serves every study of a storage, such as a study and its
    ``-confirm`` run, whose checkpoints live in their own study folders.

    Args:
        runs_dir: The runs folder.
        study_name: The study whose folder takes new artifacts (uploads from the dashboard).
    """

    def __init__(self, runs_dir: str | os.PathLike[str], study_name: str) -> None:
        self._runs_dir = Path(runs_dir)
        self._default = artifact_dir(runs_dir, study_name)

    def open_reader(self, artifact_id: str) -> BinaryIO:
        return open(self._find(artifact_id), "rb")

    def write(self, artifact_id: str, content_body: BinaryIO) -> None:
        self._default.mkdir(parents=True, exist_ok=True)
        with open(filesystem_artifact_path(str(self._default), _checked(artifact_id)), "wb") as target:
            while chunk := content_body.read(1 << 20):
                target.write(chunk)

    def remove(self, artifact_id: str) -> None:
        self._find(artifact_id).unlink()

    def _find(self, artifact_id: str) -> Path:
        for folder in sorted(self._runs_dir.glob(f"*/{ARTIFACTS_DIRNAME}")):
            path = Path(filesystem_artifact_path(str(folder), _checked(artifact_id)))
            if path.exists():
                return path
        raise ArtifactNotFound(f"no artifact {artifact_id!r} under {self._runs_dir}")


def _checked(artifact_id: str) -> str:
    """An artifact id that cannot name a path outside the store."""
    if not _ARTIFACT_ID.match(artifact_id):
        raise ArtifactNotFound(f"invalid artifact id {artifact_id!r}")
    return artifact_id
