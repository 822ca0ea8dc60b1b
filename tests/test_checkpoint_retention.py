"""Keeping the K best checkpoints: on a real journal storage with real files, and from 8 processes at once.

The retention pass needs no Keras: it reads trials from the storage and deletes files.
The real sweep's checkpoints (that the kept ones load and evaluate to their trial's value)
are checked in tests/test_end_to_end.py.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from sweeper._compat import dashboard_trial_artifact_key, study_system_attrs, trial_id_of
from sweeper.reports._trials import trials_frame
from sweeper.storage._artifacts import RunsArtifactStore, artifact_dir, checkpoint_artifact_id
from sweeper.storage._open import open_storage
from sweeper.storage._retention import (
    CHECKPOINT_ATTR,
    CHECKPOINT_FILES_ATTR,
    KEEP_ATTR,
    best_numbers,
    checkpoint_records,
    retain_checkpoints,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)


def make_study(runs: Path, name: str = "keep") -> optuna.Study:
    storage = open_storage(str(runs / name / "journal.log"))
    return optuna.create_study(study_name=name, storage=storage, direction="maximize", load_if_exists=True)


def end_trial(study: optuna.Study, runs: Path, keep, value=None, state=TrialState.COMPLETE, size=1000, **attrs) -> Path:
    """A trial that wrote a checkpoint of ``size`` bytes and ended as ``state``, as the runner records it."""
    trial = study.ask()
    folder = runs / study.study_name / "trials" / str(trial.number) / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    checkpoint = folder / "best.keras"
    checkpoint.write_bytes(os.urandom(size))
    if keep is not None:  # None: a trial from before retention existed
        trial.set_user_attr(KEEP_ATTR, keep)
    trial.set_user_attr(CHECKPOINT_ATTR, str(checkpoint))
    trial.set_user_attr(CHECKPOINT_FILES_ATTR, [str(checkpoint)])
    for key, attr in attrs.items():
        trial.set_user_attr(key, attr)
    if state == TrialState.COMPLETE:
        study.tell(trial, value)
    else:
        study.tell(trial, state=state)
    return checkpoint


def listed_artifacts(study: optuna.Study) -> dict[str, dict]:
    """The artifacts optuna-dashboard lists, by key."""
    attrs = study_system_attrs(study)
    return {k: json.loads(v) for k, v in attrs.items() if k.startswith("dashboard:artifacts:") and json.loads(v)}


def test_the_k_best_are_kept_as_hard_linked_artifacts_and_the_rest_deleted_with_a_reason(tmp_path):
    study = make_study(tmp_path)
    values = [0.5, 0.9, 0.7, 0.8]
    paths = [end_trial(study, tmp_path, 2, v) for v in values]
    pruned = end_trial(study, tmp_path, 2, state=TrialState.PRUNED)
    failed = end_trial(study, tmp_path, 2, state=TrialState.FAIL)

    assert retain_checkpoints(study, tmp_path, 2) == 4  # trials 0, 2, pruned and failed

    assert [p.exists() for p in paths] == [False, True, False, True]
    assert not pruned.exists() and not failed.exists()
    store = artifact_dir(tmp_path, "keep")
    assert len(list(store.iterdir())) == 2
    for number in (1, 3):
        artifact_id = checkpoint_artifact_id("keep", number, "best.keras")
        # One file on disk, two names: the trial's checkpoint and the store's artifact.
        assert os.stat(store / artifact_id).st_ino == os.stat(paths[number]).st_ino
    frame = trials_frame(study).set_index("trial")
    assert frame.loc[0, "checkpoint_deleted"] == "not among the 2 best" and pd_isna(frame.loc[0, "checkpoint"])
    assert frame.loc[4, "checkpoint_deleted"] == "pruned" and frame.loc[5, "checkpoint_deleted"] == "failed"
    assert frame.loc[0, "checkpoint_freed_mb"] == pytest.approx(0.001)
    assert frame.loc[1, "checkpoint"] == str(paths[1]) and pd_isna(frame.loc[1, "checkpoint_deleted"])
    assert frame.loc[1, "checkpoint_artifact"] == checkpoint_artifact_id("keep", 1, "best.keras")
    assert frame.loc[1, "checkpoint_mb"] == pytest.approx(0.001)


def test_a_checkpoint_that_falls_out_of_the_k_best_leaves_the_disk_and_the_artifact_listing(tmp_path):
    study = make_study(tmp_path)
    first = end_trial(study, tmp_path, 1, 0.5)
    retain_checkpoints(study, tmp_path, 1)
    assert first.exists() and len(listed_artifacts(study)) == 1

    better = end_trial(study, tmp_path, 1, 0.6)
    retain_checkpoints(study, tmp_path, 1)

    assert not first.exists() and better.exists()
    (listed,) = listed_artifacts(study).values()
    assert listed["artifact_id"] == checkpoint_artifact_id("keep", 1, "best.keras")
    assert sorted(p.name for p in artifact_dir(tmp_path, "keep").iterdir()) == [listed["artifact_id"]]
    records = checkpoint_records(study)
    assert records[0].deleted == "not among the 1 best" and records[1].artifact_id == listed["artifact_id"]


def test_a_pass_is_idempotent_and_zero_keeps_nothing(tmp_path):
    study = make_study(tmp_path)
    paths = [end_trial(study, tmp_path, 0, v) for v in (0.1, 0.2)]
    assert retain_checkpoints(study, tmp_path, 0) == 2
    assert retain_checkpoints(study, tmp_path, 0) == 0
    assert not any(p.exists() for p in paths)
    assert checkpoint_records(study)[0].deleted == "keep_checkpoints=0"


def test_what_another_run_kept_is_never_deleted(tmp_path):
    """Trials that ran keeping all, or before retention existed, keep their checkpoints under a later K."""
    study = make_study(tmp_path)
    kept_all = end_trial(study, tmp_path, "all", 0.1)
    legacy = end_trial(study, tmp_path, None, 0.2)
    counted = end_trial(study, tmp_path, 1, 0.3)
    newer = end_trial(study, tmp_path, 1, 0.4)
    assert retain_checkpoints(study, tmp_path, 1) == 1
    assert kept_all.exists() and legacy.exists()
    assert not counted.exists() and newer.exists()


def test_keeping_all_deletes_nothing_and_lists_every_checkpoint(tmp_path):
    study = make_study(tmp_path)
    paths = [end_trial(study, tmp_path, "all", v) for v in (0.1, 0.2)]
    paths.append(end_trial(study, tmp_path, "all", state=TrialState.PRUNED))
    assert retain_checkpoints(study, tmp_path, None) == 0
    assert all(p.exists() for p in paths)
    assert len(listed_artifacts(study)) == 3


def test_the_dashboards_store_finds_an_artifact_in_any_study_folder_and_refuses_paths(tmp_path):
    study = make_study(tmp_path, "other-confirm")
    path = end_trial(study, tmp_path, 1, 0.3)
    retain_checkpoints(study, tmp_path, 1)
    store = RunsArtifactStore(tmp_path, "keep")
    with store.open_reader(checkpoint_artifact_id("other-confirm", 0, "best.keras")) as reader:
        assert reader.read() == path.read_bytes()
    with pytest.raises(optuna.artifacts.exceptions.ArtifactNotFound):
        store.open_reader("../../etc/passwd")


def test_ties_go_to_the_earlier_trial_and_minimize_ranks_low_first(tmp_path):
    study = optuna.create_study(direction="minimize")
    for value in (0.3, 0.1, 0.1, 0.2):
        study.tell(study.ask(), value)
    assert best_numbers(study.trials, 2, study.direction) == [1, 2]


def _finish_one_trial(runs: str, value: float, barrier) -> None:
    """One of many processes ending a trial at the same moment, then running its pass, as a worker does."""
    runs_dir = Path(runs)
    study = make_study(runs_dir)
    trial = study.ask()
    checkpoint = runs_dir / "keep" / "trials" / str(trial.number) / "checkpoints" / "best.keras"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(os.urandom(2000))
    for key, attr in ((KEEP_ATTR, 2), (CHECKPOINT_ATTR, str(checkpoint)), (CHECKPOINT_FILES_ATTR, [str(checkpoint)])):
        trial.set_user_attr(key, attr)
    barrier.wait(timeout=60)  # every process ends its trial and prunes at once
    study.tell(trial, value)
    retain_checkpoints(study, runs_dir, 2)


def test_eight_processes_finishing_at_once_leave_exactly_the_two_best(tmp_path):
    make_study(tmp_path)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(8)
    values = [0.61, 0.95, 0.42, 0.88, 0.73, 0.99, 0.15, 0.57]
    processes = [context.Process(target=_finish_one_trial, args=(str(tmp_path), v, barrier)) for v in values]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0] * 8

    study = make_study(tmp_path)
    best = {t.number for t in study.trials if t.value in (0.99, 0.95)}
    on_disk = {int(p.parent.parent.name) for p in (tmp_path / "keep" / "trials").glob("*/checkpoints/*")}
    assert on_disk == best  # no lost checkpoint, no extra one
    store = artifact_dir(tmp_path, "keep")
    assert len(list(store.iterdir())) == 2
    listed = listed_artifacts(study)
    assert {meta["artifact_id"] for meta in listed.values()} == {
        checkpoint_artifact_id("keep", n, "best.keras") for n in best
    }
    for trial in study.trials:
        artifact_id = checkpoint_artifact_id("keep", trial.number, "best.keras")
        key = dashboard_trial_artifact_key(trial_id_of(trial), artifact_id)
        assert (key in listed) == (trial.number in best)
    records = checkpoint_records(study)
    assert {n for n, r in records.items() if r.deleted} == {t.number for t in study.trials} - best


def pd_isna(value) -> bool:
    return value is None or value != value


def test_an_interrupted_trials_checkpoint_waits_for_its_retry_and_a_dead_end_backup_goes(tmp_path):
    study = make_study(tmp_path)
    interrupted = end_trial(study, tmp_path, 1, state=TrialState.FAIL, retried=True, stop_reason="interrupted")
    hung = end_trial(study, tmp_path, 1, state=TrialState.FAIL, stop_reason="timeout")
    backups = [tmp_path / "keep" / "trials" / str(n) / "backup" for n in (0, 1)]
    for backup in backups:
        backup.mkdir()
        (backup / "latest").write_text("epoch-0005")

    retain_checkpoints(study, tmp_path, 1)

    # The retry will take trial 0's folder and resume from its backup: nothing of it is deleted.
    assert interrupted.exists() and backups[0].exists() and 0 not in checkpoint_records(study)
    # Trial 1 was hung and killed: never retried, so its backup and checkpoint go.
    assert not hung.exists() and not backups[1].exists()
    assert checkpoint_records(study)[1].deleted == "failed"
