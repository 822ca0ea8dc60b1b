"""Choosing a backend by name: ``loky`` (this machine) or ``dask`` (a cluster)."""

from __future__ import annotations

from sweeper._errors import StudyFileError
from sweeper.backends._backend import Backend
from sweeper.execution._gpus import GpuPlan

BACKENDS = ("loky", "dask")


def open_backend(
    name: str,
    *,
    jobs: int,
    study_file: str,
    scheduler: str | None,
    storage: str | None,
    gpus: GpuPlan | None = None,
) -> Backend:
    """The backend ``name`` asks for, checked before anything runs.

    Args:
        name: ``"loky"`` or ``"dask"``.
        jobs: Worker processes, for ``loky``.
        study_file: The study file's absolute path, which ``loky`` workers load at once.
        scheduler: The Dask scheduler's address, for ``dask``.
        storage: The storage the user passed, which ``dask`` needs to be a database.
        gpus: The GPUs ``loky`` workers are pinned to; ``None`` for CPU. Defaults to ``None``.

    Returns:
        The started backend; close it when the sweep ends.

    Raises:
        StudyFileError: For an unknown backend or missing options.
    """
    if name == "loky":
        from sweeper.backends.local._backend import LocalBackend

        return LocalBackend(jobs, study_file, gpus)
    if name != "dask":
        raise StudyFileError(
            f"--backend={name!r} is not one of {BACKENDS}.", fix="use --backend loky or --backend dask."
        )
    from sweeper.backends.dask._backend import DaskBackend

    return DaskBackend(scheduler, storage, gpus.trials_per_gpu if gpus else 1)
