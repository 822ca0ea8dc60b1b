"""The frameworks' C++ log chatter stays off the console; Python's warnings and errors still show."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sweeper.execution._native_logs import is_chatter, native_log_level, without_chatter

UNINITIALISED = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
INFO = b"I0000 00:00:1796386249.410994   24932 port.cc:153] oneDNN custom operations are on.\n"
WARNING = b"W0000 00:00:1796386249.410994   24932 cpu_feature_guard.cc:210] This TensorFlow binary is optimized\n"
ERROR = b"E0000 00:00:1796386249.410994   24932 cuda_executor.cc:1228] failed call to cuInit\n"


@pytest.mark.parametrize(
    "line, level, dropped",
    [
        (INFO, 2, True),
        (WARNING, 2, True),
        (UNINITIALISED, 2, True),
        (ERROR, 2, False),  # TF_CPP_MIN_LOG_LEVEL=2 keeps errors
        (ERROR, 3, True),
        (INFO, 1, True),
        (WARNING, 1, False),
        (b"/study.py:12: UserWarning: mind the gap\n", 3, False),
        (b"Traceback (most recent call last):\n", 3, False),
        (b"I0000 is how my log line starts\n", 2, False),  # not Abseil's format
    ],
)
def test_only_abseil_lines_below_the_level_are_chatter(line, level, dropped):
    assert is_chatter(line, level) is dropped


def test_a_dropped_messages_continuation_lines_go_with_it_but_pythons_lines_stay():
    guard = (
        INFO.replace(b"oneDNN custom operations are on.", b"This binary is optimized.") + b"To enable AVX2, rebuild.\n"
    )
    chunk = guard + b"<string>:7: UserWarning: from user code\n" + b'  warnings.warn("x")\n' + ERROR
    assert without_chatter(chunk, 2) == b"<string>:7: UserWarning: from user code\n" + b'  warnings.warn("x")\n' + ERROR


def test_the_level_is_tf_cpp_min_log_level_and_2_by_default():
    assert native_log_level({}) == 2
    assert native_log_level({"TF_CPP_MIN_LOG_LEVEL": "0"}) == 0
    assert native_log_level({"TF_CPP_MIN_LOG_LEVEL": "junk"}) == 2


PROGRAM = """
import warnings
from sweeper.execution._native_logs import filter_native_logs
filter_native_logs()
import tensorflow as tf
tf.constant(1.0) + 1.0  # the first op logs again, after the import
warnings.warn("from user code")
raise SystemExit("an error line")
"""


def test_a_real_tensorflow_import_prints_nothing_but_pythons_own_lines():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    run = subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True, timeout=120)
    lines = run.stderr.decode().strip().splitlines()
    assert lines == ["<string>:7: UserWarning: from user code", "an error line"]  # no source line for -c


def test_a_user_who_asks_for_the_logs_gets_them():
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0"}
    run = subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True, timeout=120)
    assert b"oneDNN custom operations are on" in run.stderr
