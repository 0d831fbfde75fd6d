"""The nmda_threshold experiment end to end (the snnsim binary) and the NMDA sweep plots
(analysis/nmda.py) on a synthetic sweep index."""

import math
import os
import subprocess

import h5py
import numpy as np
import pytest

from analysis import nmda
from analysis import io as aio
from analysis.cli import main as cli_main
from sonata_files import write_sweep

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SMALL = os.path.join(ROOT, "experiments", "nmda_threshold_small.toml")


def snnsim():
    path = os.environ.get("SNNSIM_BIN")
    assert path, "SNNSIM_BIN must name the snnsim binary (scripts/test.sh sets it)"
    return path


def run_point(tmp_path, theta):
    out = tmp_path / f"theta{theta}"
    proc = subprocess.run([snnsim(), "run", SMALL, "--set", f"nmda.theta={theta}", "--out",
                           str(out)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    with h5py.File(out / "spikes.h5", "r") as f:
        metrics = {k: float(v) for k, v in f["metrics"].attrs.items()}
        complete = int(f["run"].attrs["complete"])
        pops = sorted(f["spikes"].keys())
    return metrics, complete, pops, proc.stdout + proc.stderr


@pytest.mark.parametrize("theta", [4, 10])
def test_run_point_metrics_agree_with_theory(tmp_path, theta):
    m, complete, pops, printed = run_point(tmp_path, theta)
    assert complete == 1
    assert pops == ["column", "pyramidal"]
    for key in ("fp_rate", "fp_lo", "fp_hi", "fp_theory", "fn_rate", "fn_lo", "fn_hi",
                "fn_theory", "fp_expected_events", "fn_expected_events", "seq_precision",
                "seq_recall", "seq_depolarisation_mV"):
        assert key in m, key
        assert f"{key} = " in printed  # also printed at the end of the run
    assert m["trials"] == 20000
    # Where the theory expects >= 10 events, it must lie in the 95 % Wilson interval
    # (small config: θ = 4 has ~75 expected false positives, θ = 10 ~15000 false negatives).
    checked = 0
    for err in ("fp", "fn"):
        assert m[f"{err}_lo"] <= m[f"{err}_rate"] <= m[f"{err}_hi"]
        assert m[f"{err}_rate"] == m[f"{err}_events"] / m["trials"]
        if m[f"{err}_expected_events"] >= 10:
            assert m[f"{err}_lo"] <= m[f"{err}_theory"] <= m[f"{err}_hi"], err
            checked += 1
    assert checked == 1
    # Sequence: θ = 4 predicts (the small config's good region), θ = 10 barely does.
    if theta == 4:
        assert m["seq_precision"] > 0.8 and m["seq_recall"] > 0.6
    else:
        assert m["seq_recall"] < 0.3


def test_bad_point_is_rejected_with_its_key(tmp_path):
    proc = subprocess.run([snnsim(), "run", SMALL, "--set", "nmda.s=99", "--out",
                           str(tmp_path / "bad")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "nmda.s" in proc.stderr


# --------------------------------------------------------------------------- plots

def synthetic_rows():
    """Two curves (M = 1, 3), θ = 2, 4, 6, 8; hand-chosen rates with a clear good region:
    M = 1 is good (both theory errors <= 1e-3) at θ = 4 and 6, M = 3 only at θ = 6."""
    fp_theory = {1: [1e-1, 1e-3, 1e-6, 1e-9], 3: [3e-1, 3e-3, 3e-6, 3e-9]}
    fn_theory = [0.0, 1e-4, 1e-3, 0.5]
    rows = []
    for M in (1, 3):
        for j, theta in enumerate((2, 4, 6, 8)):
            p = len(rows)
            fp, fn = fp_theory[M][j], fn_theory[j]
            rows.append({"point": p, "status": "done", "seed": p, "folder": f"point_{p:03d}",
                         "param.nmda.theta": theta, "param.nmda.patterns_M": M,
                         "metric.fp_rate": fp, "metric.fp_lo": fp / 2, "metric.fp_hi": fp * 2,
                         "metric.fp_theory": fp, "metric.fn_rate": fn, "metric.fn_lo": fn / 2,
                         "metric.fn_hi": fn * 2 + 1e-4, "metric.fn_theory": fn,
                         "metric.seq_precision": 0.5 + 0.1 * j,
                         "metric.seq_recall": 1.0 - 0.25 * j - 0.01 * M})
    # A failed point that must be ignored.
    rows.append(dict(rows[0], point=len(rows), status="failed", folder="point_x",
                     **{"metric.fp_rate": math.nan}))
    return rows


def test_curves_and_good_region(tmp_path):
    write_sweep(tmp_path / "sw", synthetic_rows())
    index = aio.read_sweep_index(tmp_path / "sw")
    fig, data = nmda.plot_errors(index, fp_max=1e-3, fn_max=1e-3)
    keys = sorted(data["curves"])
    assert keys == [(("patterns_M", 1),), (("patterns_M", 3),)]
    c1 = data["curves"][(("patterns_M", 1),)]
    np.testing.assert_array_equal(c1["theta"], [2, 4, 6, 8])
    np.testing.assert_allclose(c1["fp_theory"], [1e-1, 1e-3, 1e-6, 1e-9])
    np.testing.assert_allclose(c1["fn_hi"], [1e-4, 3e-4, 2.1e-3, 1.0001])
    np.testing.assert_array_equal(data["good"][(("patterns_M", 1),)], [4, 6])
    np.testing.assert_array_equal(data["good"][(("patterns_M", 3),)], [6])
    # Judged on the upper limits: M = 1 at θ = 4 (fp_hi 2e-3) fails, θ = 6 has fn_hi 2.1e-3.
    _, emp = nmda.plot_errors(index, fp_max=1e-3, fn_max=1e-3, source="empirical")
    assert emp["good"][(("patterns_M", 1),)].size == 0
    _, seq = nmda.plot_sequence(index)
    c3 = seq["curves"][(("patterns_M", 3),)]
    np.testing.assert_allclose(c3["seq_precision"], [0.5, 0.6, 0.7, 0.8])
    np.testing.assert_allclose(c3["seq_recall"], [0.97, 0.72, 0.47, 0.22])


def test_good_theta_function():
    th = np.array([1, 2, 3, 4, 5])
    fp = np.array([0.5, 0.01, 1e-4, 1e-6, 1e-9])
    fn = np.array([0.0, 0.0, 1e-5, 0.02, np.nan])
    np.testing.assert_array_equal(nmda.good_theta(th, fp, fn, 1e-3, 1e-3), [3])


def test_cli_writes_both_figures(tmp_path, capsys):
    write_sweep(tmp_path / "sw", synthetic_rows())
    for sub in ("nmda-errors", "nmda-sequence"):
        out = tmp_path / f"{sub}.png"
        assert cli_main([sub, str(tmp_path / "sw"), "-o", str(out)]) == 0
        assert out.stat().st_size > 1000
    text = capsys.readouterr().out
    assert "patterns_M=1: good θ 4, 6" in text
    assert "θ=2 P=0.500 R=0.990" in text
