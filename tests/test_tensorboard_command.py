"""`sweeper tensorboard` serves the study's trials, with HParams, on localhost only."""

import json
import socket
import subprocess
import sys
import time
import urllib.request

from conftest import sweep


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_tensorboard_serves_the_trials_with_the_hparams_dashboard_on_localhost(swept):
    root = swept[0]
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "sweeper", "tensorboard", "e2e", "--port", str(port)],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        plugins = None
        deadline = time.monotonic() + 90
        while plugins is None and time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/data/plugins_listing", timeout=2) as answer:
                    plugins = json.load(answer)
            except OSError:
                time.sleep(0.5)
        assert plugins is not None, server.stdout.read() if server.poll() is not None else "no answer"
        assert plugins["hparams"]["enabled"] and plugins["scalars"]["enabled"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/data/runs", timeout=5) as answer:
            runs = json.load(answer)
        assert "0/tensorboard/validation" in runs
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_tensorboard_for_an_unknown_study_is_exit_2(tmp_path):
    result = sweep("tensorboard", "missing", cwd=tmp_path)
    assert result.exit_code == 2 and "no study named 'missing'" in result.output
