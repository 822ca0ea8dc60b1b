"""`sweeper dashboard`: a real optuna-dashboard on the study's storage, on localhost, named metrics, clean Ctrl-C."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import warnings

import optuna
import pytest
from conftest import env_without, sweep

from sweeper.api import dashboard
from sweeper.execution._open_study import name_metric


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_json(url: str, deadline_s: float = 60) -> dict:
    """The JSON at ``url`` once the server answers."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.load(response)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def test_the_dashboard_serves_the_study_on_localhost_with_its_metric_named(swept, capsys):
    root = swept[0]
    port = free_port()
    server = dashboard("e2e", runs_dir=root / "runs", port=port)
    try:
        assert f"http://127.0.0.1:{port}/dashboard/" in capsys.readouterr().out
        studies = get_json(f"http://127.0.0.1:{port}/api/studies")["study_summaries"]
        (summary,) = [s for s in studies if s["study_name"] == "e2e"]
        study = get_json(f"http://127.0.0.1:{port}/api/studies/{summary['study_id']}")
        assert study["objective_names"] == ["val_accuracy"]  # not "Objective 0"
        assert len(study["trials"]) == len(swept[3])
        kept = swept[3][swept[3]["checkpoint"].notna()]
        with_artifacts = {t["number"]: t for t in study["trials"] if t["artifacts"]}
        assert set(with_artifacts) == set(kept["trial"])  # the kept checkpoints, and no deleted one
        for row in kept.itertuples():
            trial = with_artifacts[row.trial]
            (artifact,) = trial["artifacts"]
            assert artifact["artifact_id"] == row.checkpoint_artifact and artifact["filename"] == "best.keras"
            url = (
                f"http://127.0.0.1:{port}/artifacts/{summary['study_id']}/{trial['trial_id']}/{row.checkpoint_artifact}"
            )
            with urllib.request.urlopen(url, timeout=10) as download:
                assert download.read() == open(row.checkpoint, "rb").read()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/dashboard/", timeout=10) as page:
            assert page.status == 200 and b"<html" in page.read().lower()
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_ctrl_c_stops_the_dashboard_cleanly(swept):
    root = swept[0]
    port = free_port()
    command = [sys.executable, "-m", "sweeper", "dashboard", "e2e", "--port", str(port)]
    server = subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        get_json(f"http://127.0.0.1:{port}/api/studies")
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=30)
    finally:
        server.kill()
    assert server.returncode == 0 and "Traceback" not in err, err
    assert f"optuna-dashboard on http://127.0.0.1:{port}/dashboard/" in out


def test_a_study_created_before_metric_names_gets_its_monitor_as_its_name():
    study = optuna.create_study(direction="maximize")
    study.set_user_attr("monitor", "val_accuracy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert study.metric_names is None
        name_metric(study, "val_accuracy")
        assert study.metric_names == ["val_accuracy"]


def test_without_optuna_dashboard_it_is_one_line_and_exit_2(tmp_path):
    env = env_without("optuna_dashboard", tmp_path)
    run = subprocess.run(
        [sys.executable, "-m", "sweeper", "dashboard", "anything"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip() == (
        "error: optuna-dashboard is not installed. Fix: pip install 'sweeper[dashboard]' (or optuna-dashboard)."
    )


def test_a_dashboard_on_an_unknown_study_is_one_line_and_exit_2(tmp_path):
    result = sweep("dashboard", "nope", cwd=tmp_path)
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line.startswith("error: nope: no study named 'nope'") and "Fix: run `sweeper run STUDY.py` first" in line


@pytest.fixture(autouse=True)
def _no_stray_servers():
    yield
    subprocess.run(["pkill", "-f", "sweeper.api._dashboard_server"], check=False)
