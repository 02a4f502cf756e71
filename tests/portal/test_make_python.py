"""The interpreter the Makefile makes the venv with (make bench, docs/PERFORMANCE.md)."""

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEBIAN = Path("/usr/bin/python3.11")


def makes_venv_with(*arguments: str) -> str:
    """The Makefile's PYTHON, as make works it out (no recipe runs)."""
    done = subprocess.run(
        [
            "make",
            "-s",
            "--no-print-directory",
            *arguments,
            "--eval",
            "shown: ; @echo $(PYTHON)",
            "shown",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.mark.skipif(not DEBIAN.exists(), reason="no Debian CPython 3.11 on this machine")
def test_the_venv_is_made_with_debians_optimised_cpython():
    """make bench: pyenv's shared, unoptimised build ran the list pages' Python about a
    fifth slower than Debian's PGO/LTO build, which production's image matches."""
    assert makes_venv_with() == str(DEBIAN)


def test_another_interpreter_can_be_chosen():
    assert makes_venv_with("PYTHON=python3") == "python3"
