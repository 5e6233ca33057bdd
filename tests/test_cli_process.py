"""The CLI tests again, with each ``tagger`` command a real process (the console script in a
fresh interpreter): what a shell runs, with its interpreter start, imports, exit code and
stdout/stderr pipes. The quick set runs these tests' commands in the pytest process
(tests/cli_run.py); this checks that nothing there depends on it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a pytest run of its own: ~60 command processes

TESTS = Path(__file__).resolve().parent
# The test files whose commands run through cli_run.tagger.
CLI_TESTS = ("test_cli_text.py", "test_cli_layout.py", "test_playlist_and_retry.py",
             "test_stats.py", "test_public_api.py", "test_model_architectures.py")


def test_the_cli_tests_pass_with_every_command_a_real_process() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         *(str(TESTS / name) for name in CLI_TESTS)],
        env={**os.environ, "TAGGER_TESTS_SUBPROCESS": "1"}, cwd=TESTS.parent,
        capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert " passed" in run.stdout.splitlines()[-1], run.stdout[-2000:]
