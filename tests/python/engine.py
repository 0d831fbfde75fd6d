"""Helpers for the end-to-end tests that run the real ``snnsim`` binary.

The binary's path comes from the environment variable SNNSIM_BIN (scripts/test.sh sets
it). Without it these tests fail with a clear message instead of being skipped, so a
missing build cannot pass for a green suite.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENTS = ROOT / "experiments"


def binary() -> str:
    path = os.environ.get("SNNSIM_BIN")
    if not path:
        pytest.fail("SNNSIM_BIN is not set: build snnsim and run "
                    "SNNSIM_BIN=build/snnsim /usr/bin/python3 -m pytest tests/python "
                    "(scripts/test.sh does both)", pytrace=False)
    if not os.access(path, os.X_OK):
        pytest.fail(f"SNNSIM_BIN={path} is not an executable file", pytrace=False)
    return path


def snnsim(*args, cwd=None, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """Runs ``snnsim ARGS`` and returns the finished process (text stdout/stderr)."""
    return subprocess.run([binary(), *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=quiet_openmp_env())


def quiet_openmp_env() -> dict:
    """The environment with OpenMP threads that sleep rather than spin while they wait:
    on a loaded machine spinning threads slow a 2-thread run tenfold. Results do not
    depend on it."""
    return {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "passive")}


# A small network that runs in a few milliseconds: two populations with constant drive
# plus noise (so both fire), one projection with a delay of three steps.
SMALL_CONFIG = """\
[experiment]
type = "network"
name = "small"

[simulation]
dt_ms = 0.5
duration_ms = 200.0
seed = 7

[[population]]
name = "exc"
size = 40
drive = { mean = 6.0, noise_sigma = 3.0 }

[[population]]
name = "inh"
size = 10
preset = "FS"
drive = { mean = 4.0, noise_sigma = 3.0 }

[[projection]]
source = "exc"
target = "inh"
rule = "fixed_probability"
probability = 0.2
weight = 2.0
delay_ms = 1.5
"""


def write_config(folder: Path, text: str = SMALL_CONFIG, name: str = "small.toml") -> Path:
    path = Path(folder) / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str) -> int:
    """1-based number of the only line of ``text`` that contains ``needle``: tests find
    the expected line of an error this way rather than counting by hand."""
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    assert len(hits) == 1, f"{needle!r} occurs on lines {hits}"
    return hits[0]
