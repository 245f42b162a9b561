"""The embedded server's launcher: its shims keep mongoeco's semantics (see
tests_py/launcher_differential.py, which runs in the server's own venv)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, SCRIPT, Server

DIFFERENTIAL = Path(__file__).with_name("launcher_differential.py")


@pytest.fixture(scope="module")
def mongoeco_python(server: Server) -> str:
    if server.kind != "embedded":
        pytest.skip("the launcher's shims are used only by the embedded server")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "mongoeco-python"],
        check=True, stdout=subprocess.PIPE, text=True, timeout=1800,
    )  # fmt: skip
    return done.stdout.strip()


def test_uniqueness_shims_match_the_engine_over_random_operation_sequences(
    mongoeco_python: str,
) -> None:
    # 300 seeded sequences of 40 operations (about 10 s); more by hand:
    #   <venv>/bin/python tests_py/launcher_differential.py 5000
    done = subprocess.run(
        [mongoeco_python, str(DIFFERENTIAL), "300"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout
    assert "300 sequences identical" in done.stdout
