"""Every bad study file gets one clear line through the CLI: file, field and fix; exit 2; nothing written."""

from __future__ import annotations

import pytest
from conftest import sweep


@pytest.fixture(scope="module", autouse=True)
def one_warm_worker():
    """One worker process for every case here, as `sweeper.run` keeps it warm between sweeps in a process.

    `sweeper run` kills its idle workers as the CLI exits; in this test process that would
    cost a TensorFlow import per case, only for each probe to fail. The worker loads each
    case's study file afresh (by path and modification time).
    """
    import sweeper.api

    release = sweeper.api.release_warm_workers
    patch = pytest.MonkeyPatch()
    patch.setattr(sweeper.api, "release_warm_workers", lambda: None)
    yield
    patch.undo()
    release()


OK_FIELDS = "name='bad', data=load_data, model=build_model, monitor='val_accuracy', epochs=1, n_trials=1"

# (case id, study file body, what the one error line must say)
BAD_STUDY_FILES = [
    ("syntax_error", "study = sw.Study(name='x',\n    data=load_data model=build_model)\n", "syntax error"),
    ("no_study", "x = 1\n", "defines no sweeper.Study"),
    (
        "two_studies",
        f"a = sw.Study({OK_FIELDS})\nb = sw.Study({OK_FIELDS.replace('bad', 'worse')})\n",
        "defines 2 studies (a, b)",
    ),
    (
        "misspelt_callback_parameter",
        f"study = sw.Study({OK_FIELDS}, callbacks=[sw.EarlyStopping(patiense=3)])\n",
        "unknown parameter 'patiense'",
    ),
    (
        "factor_of_one_among_choices",
        f"study = sw.Study({OK_FIELDS}, callbacks=[sw.ReduceLROnPlateau(factor=sw.choice(0.5, 1.0))])\n",
        "factor",
    ),
    (
        "monitor_not_logged",
        f"study = sw.Study({OK_FIELDS.replace('val_accuracy', 'val_acc')})\n",
        "did you mean 'val_accuracy'?",
    ),
    (
        "data_of_the_wrong_shape",
        "def one_pair():\n    return load_data()[0]\n\n"
        f"study = sw.Study({OK_FIELDS.replace('data=load_data', 'data=one_pair')})\n",
        "data()",
    ),
    (
        "epochs_zero",
        f"study = sw.Study({OK_FIELDS.replace('epochs=1', 'epochs=0')})\n",
        "epochs=0 must be a positive integer",
    ),
    (
        "n_trials_not_an_integer",
        f"study = sw.Study({OK_FIELDS.replace('n_trials=1', 'n_trials=2.5')})\n",
        "n_trials=2.5 must be a positive integer",
    ),
    (
        "name_escaping_the_runs_dir",
        f"study = sw.Study({OK_FIELDS.replace(chr(39) + 'bad', chr(39) + '../x')})\n",
        "name='../x' starts with '.'",
    ),
    (
        "absolute_name",
        f"study = sw.Study({OK_FIELDS.replace(chr(39) + 'bad', chr(39) + '/abs')})\n",
        "name='/abs' starts with '/'",
    ),
    (
        "name_with_a_space",
        f"study = sw.Study({OK_FIELDS.replace(chr(39) + 'bad', chr(39) + 'has space')})\n",
        "name='has space' contains a space",
    ),
    (
        "keep_checkpoints_negative",
        f"study = sw.Study({OK_FIELDS}, keep_checkpoints=-1)\n",
        "keep_checkpoints=-1 must be a whole number 0 or more, or 'all'",
    ),
    (
        "user_code_raising_at_import",
        "raise RuntimeError('boom at import')\n",
        "raised RuntimeError: boom at import. Fix: fix the code at that line.",
    ),
]


def assert_one_clear_line_and_nothing_written(result, root, *expected: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for text in expected:
        assert text in lines[0], lines[0]
    assert "Fix:" in lines[0]
    assert not (root / "runs").exists() and not (root / "reports").exists()


@pytest.mark.parametrize("body, expected", [case[1:] for case in BAD_STUDY_FILES], ids=[c[0] for c in BAD_STUDY_FILES])
def test_bad_study_file(tmp_path, write_study, body, expected):
    path = write_study(body)
    result = sweep("run", str(path), "--jobs", "1", cwd=tmp_path)
    assert_one_clear_line_and_nothing_written(result, tmp_path, str(path), expected)


def test_syntax_error_names_the_line(tmp_path, write_study):
    path = write_study("study = sw.Study(name='x',\n    data=load_data model=build_model)\n")
    line = path.read_text().splitlines().index("    data=load_data model=build_model)") + 1
    result = sweep("run", str(path), cwd=tmp_path)
    assert_one_clear_line_and_nothing_written(result, tmp_path, f"{path}:{line}")


def test_misspelt_callback_parameter_lists_the_valid_ones(tmp_path, write_study):
    path = write_study(f"study = sw.Study({OK_FIELDS}, callbacks=[sw.EarlyStopping(patiense=3)])\n")
    result = sweep("run", str(path), cwd=tmp_path)
    assert_one_clear_line_and_nothing_written(result, tmp_path, "patience", "min_delta", "restore_best_weights")


def test_missing_file(tmp_path):
    result = sweep("run", str(tmp_path / "nope.py"), cwd=tmp_path)
    assert_one_clear_line_and_nothing_written(result, tmp_path, "nope.py", "no such file")


def test_non_python_file(tmp_path):
    notes = tmp_path / "study.txt"
    notes.write_text("name: digits\n")
    result = sweep("run", str(notes), cwd=tmp_path)
    assert_one_clear_line_and_nothing_written(result, tmp_path, "study.txt", "not a Python study file")


@pytest.mark.parametrize(
    "option, value",
    [
        ("--jobs", "0"),
        ("--n-trials", "0"),
        ("--retries", "-1"),
        ("--fail-fast", "-2"),
        ("--epoch-budget", "0"),
        ("--keep-checkpoints", "-1"),
        ("--min-free-gb", "-1"),
    ],
)
def test_bad_cli_numbers_fail_before_any_worker_loads_the_study(tmp_path, write_study, option, value):
    marker = tmp_path / "data-was-loaded"
    path = write_study(
        f"def marked_data():\n    open({str(marker)!r}, 'w').close()\n    return load_data()\n\n"
        f"study = sw.Study({OK_FIELDS.replace('data=load_data', 'data=marked_data')})\n"
    )
    result = sweep("run", str(path), option, value, cwd=tmp_path)
    assert_one_clear_line_and_nothing_written(result, tmp_path, f"{option}={value}")
    assert not marker.exists()  # no worker started: each would have loaded the study's data at once


def test_unreachable_storage_is_one_redacted_line(tmp_path, write_study):
    path = write_study(f"study = sw.Study({OK_FIELDS})\n")
    result = sweep("run", str(path), "--storage", "postgresql://alice:s3cret-pw@127.0.0.1:9/sweeps", cwd=tmp_path)
    assert_one_clear_line_and_nothing_written(result, tmp_path, "postgresql://alice:***@127.0.0.1:9/sweeps")
    assert "s3cret-pw" not in result.output


def test_an_artifact_store_that_cannot_be_written_is_one_line_before_the_study_is_written(tmp_path, write_study):
    path = write_study(f"study = sw.Study({OK_FIELDS})\n")
    (tmp_path / "runs" / "bad").mkdir(parents=True)
    (tmp_path / "runs" / "bad" / "artifacts").write_text("a file where the store's folder should be")
    result = sweep("run", str(path), cwd=tmp_path)
    assert result.exit_code == 2, result.output
    (line,) = result.output.strip().splitlines()
    assert line.startswith("error: the artifact store ") and "runs/bad/artifacts" in line and "Fix:" in line
    assert sorted(p.name for p in (tmp_path / "runs" / "bad").iterdir()) == ["artifacts"]  # no journal, no trial


def test_a_disk_under_the_free_space_threshold_starts_no_trial_and_exits_1(tmp_path, write_study):
    path = write_study(f"study = sw.Study({OK_FIELDS})\n")
    result = sweep("run", str(path), "--min-free-gb", "1e9", cwd=tmp_path)  # more than any disk here has
    assert result.exit_code == 1, result.output
    assert "GB free, under the 1e+09 GB a trial needs to start" in result.output
    assert str(tmp_path / "runs") in result.output and "run the same command again to resume" in result.output
    assert not list((tmp_path / "runs" / "bad").glob("trials/*"))  # no trial started
    assert (tmp_path / "reports" / "bad" / "trials.csv").exists()  # what finished (nothing) is reported
