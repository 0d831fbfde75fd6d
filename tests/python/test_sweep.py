"""`snnsim sweep` end to end with the real binary on a tiny network (2 x 50 neurons,
200 ms; each point runs in well under a second): parallel points give the same results as
serial ones, a killed sweep resumes to the same end state, failing points are recorded,
bad specs are refused before anything runs, and --dry-run writes nothing."""

import csv
import os
import signal
import subprocess
import time

import h5py
import numpy as np
import pytest

from analysis.io import read_sweep_index

CONFIG = """
[experiment]
type = "network"
name = "tiny"

[simulation]
dt_ms = 1.0
duration_ms = 200.0
seed = 11

[[population]]
name = "exc"
size = 50
drive = { mean = 3.0, noise_sigma = 5.0 }

[[population]]
name = "inh"
size = 50
drive = { mean = 2.0, noise_sigma = 3.0 }

[[projection]]
name = "ee"
source = "exc"
target = "exc"
rule = "fixed_probability"
probability = 0.2
weight = 0.5
delay_ms = 1.0

[[projection]]
name = "ei"
source = "exc"
target = "inh"
rule = "fixed_probability"
probability = 0.2
weight = 0.5
delay_ms = 2.0

[[projection]]
name = "ie"
source = "inh"
target = "exc"
rule = "fixed_probability"
probability = 0.2
weight = -1.0
delay_ms = 1.0

[sweep]
mode = "product"
[sweep.parameters]
"population.exc.drive.noise_sigma" = [4.0, 6.0]
"projection.ee.weight" = { linspace = [0.25, 0.75, 3] }
"""

# Metrics that measure the machine, not the model: they differ from run to run.
TIMING = {"metric.wall_s", "metric.real_time_factor"}


@pytest.fixture(scope="module")
def binary():
    path = os.environ.get("SNNSIM_BIN")
    assert path and os.path.exists(path), "SNNSIM_BIN must name the built snnsim binary"
    return path


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(CONFIG)
    return path


def sweep(binary, *args, env=None, check=None):
    run = subprocess.run([binary, "sweep", *map(str, args)], capture_output=True, text=True,
                         env=env, timeout=120)
    if check is not None:
        assert run.returncode == check, run.stderr
    return run


def index_rows(folder):
    with open(os.path.join(folder, "index.csv"), newline="") as fh:
        return list(csv.DictReader(fh))


def assert_same_results(a, b):
    """Same points, statuses, seeds, parameters, model metrics and spikes."""
    ra, rb = index_rows(a), index_rows(b)
    assert len(ra) == len(rb)
    for x, y in zip(ra, rb):
        assert {k: v for k, v in x.items() if k not in TIMING} == \
               {k: v for k, v in y.items() if k not in TIMING}
        assert x["status"] == "done"
        with h5py.File(os.path.join(a, x["folder"], "spikes.h5"), "r") as fa, \
             h5py.File(os.path.join(b, y["folder"], "spikes.h5"), "r") as fb:
            for pop in ("exc", "inh"):
                for ds in ("timestamps", "node_ids"):
                    np.testing.assert_array_equal(fa[f"spikes/{pop}/{ds}"][()],
                                                  fb[f"spikes/{pop}/{ds}"][()])
            assert fa["run"].attrs["seed"] == int(x["seed"])


@pytest.fixture(scope="module")
def reference(binary, tmp_path_factory):
    """An uninterrupted serial sweep of CONFIG, to compare the others with."""
    d = tmp_path_factory.mktemp("ref")
    (d / "tiny.toml").write_text(CONFIG)
    sweep(binary, d / "tiny.toml", "--jobs", 1, "--out", d / "sweep", check=0)
    return str(d / "sweep")


def test_index_layout_and_metrics(reference):
    rows = index_rows(reference)
    assert len(rows) == 6
    assert list(rows[0])[:4] == ["point", "status", "seed", "folder"]
    # Product order, first parameter slowest; linspace(0.25, 0.75, 3) = 0.25, 0.5, 0.75.
    assert [(r["param.population.exc.drive.noise_sigma"], r["param.projection.ee.weight"])
            for r in rows] == [("4", "0.25"), ("4", "0.5"), ("4", "0.75"),
                               ("6", "0.25"), ("6", "0.5"), ("6", "0.75")]
    assert len({r["seed"] for r in rows}) == 6
    index = read_sweep_index(reference)
    assert index.n_points == 6 and index.done().all()
    for i, row in enumerate(rows):
        with h5py.File(os.path.join(reference, row["folder"], "spikes.h5"), "r") as f:
            # The rate metric is spikes / (neurons * seconds), counted from the file.
            n_exc = f["spikes/exc/timestamps"].shape[0]
            assert f["metrics"].attrs["rate_hz.exc"] == pytest.approx(n_exc / 50 / 0.2, rel=1e-12)
            assert index.column("rate_hz.exc")[i] == f["metrics"].attrs["rate_hz.exc"]
            total = n_exc + f["spikes/inh/timestamps"].shape[0]
            assert index.column("spikes_total")[i] == total
    # Something happened in these networks, or the comparisons below prove little.
    assert index.column("spikes_total").min() > 0


def test_parallel_points_match_serial(binary, config, tmp_path, reference):
    sweep(binary, config, "--jobs", 2, "--threads", 2, "--out", tmp_path / "par", check=0)
    assert_same_results(reference, str(tmp_path / "par"))


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_sweep_resumes_to_the_same_end(binary, config, tmp_path, reference, sig):
    out = tmp_path / "cut"
    proc = subprocess.Popen([binary, "sweep", str(config), "--jobs", "1", "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    done = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / "index.csv").exists():
            try:
                done = sum(r["status"] == "done" for r in index_rows(out))
            except (OSError, KeyError):
                done = 0
            if done >= 2:
                break
        time.sleep(0.005)
    assert proc.poll() is None, "the sweep ended before it could be interrupted"
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert proc.returncode == 130
    rows = index_rows(out)
    finished = [r["point"] for r in rows if r["status"] == "done"]
    assert 2 <= len(finished) < 6
    # Point folders appear only complete: each one that exists is done.
    for r in rows:
        present = (out / r["folder"] / "spikes.h5").exists()
        if sig == signal.SIGINT:
            assert present == (r["status"] == "done")
    before = {r["folder"]: os.stat(out / r["folder"] / "spikes.h5").st_ino
              for r in rows if (out / r["folder"] / "spikes.h5").exists()}

    run = sweep(binary, config, "--jobs", 2, "--resume", out, check=0)
    assert f"{6 - len(before)} to run" in run.stderr
    for folder, inode in before.items():  # finished points were not run again
        assert os.stat(out / folder / "spikes.h5").st_ino == inode
    assert_same_results(reference, str(out))
    assert not [p for p in os.listdir(out / "points") if p.startswith(".tmp")]


def test_failing_point_is_recorded_and_the_rest_complete(binary, config, tmp_path, reference):
    # A stand-in for the point binary that fails for one parameter value and otherwise
    # runs the real snnsim.
    wrapper = tmp_path / "flaky.sh"
    wrapper.write_text('#!/bin/sh\ncase "$*" in\n  *noise_sigma=6.0*projection.ee.weight=0.5*)\n'
                       '    echo "injected failure" >&2; exit 3;;\nesac\n'
                       f'exec "{binary}" "$@"\n')
    wrapper.chmod(0o755)
    env = dict(os.environ, SNNSIM_SWEEP_BINARY=str(wrapper))
    out = tmp_path / "flaky"
    run = sweep(binary, config, "--jobs", 2, "--out", out, env=env, check=1)
    assert "point 4 failed (exit code 3)" in run.stderr
    rows = index_rows(out)
    assert [r["status"] for r in rows] == ["done"] * 4 + ["failed", "done"]
    assert rows[4]["exit_code"] == "3" and "injected failure" in rows[4]["error"]
    assert rows[4]["metric.rate_hz.exc"] == ""
    assert not (out / rows[4]["folder"]).exists()
    # Resuming without the fault runs only the failed point.
    run = sweep(binary, config, "--resume", out, check=0)
    assert "1 to run" in run.stderr
    assert_same_results(reference, str(out))


def test_exit_zero_without_complete_file_is_a_failure(binary, config, tmp_path):
    wrapper = tmp_path / "liar.sh"
    wrapper.write_text("#!/bin/sh\nexit 0\n")
    wrapper.chmod(0o755)
    out = tmp_path / "liar"
    sweep(binary, config, "--out", out, env=dict(os.environ, SNNSIM_SWEEP_BINARY=str(wrapper)),
          check=1)
    rows = index_rows(out)
    assert {r["status"] for r in rows} == {"failed"}
    assert "not marked complete" in rows[0]["error"]


@pytest.mark.parametrize("extra, words", [
    (["--sweep", "population.exc.drive.noise_sigmaa=[1.0]"], "did you mean 'noise_sigma'"),
    (["--sweep", "population.exc.size=linspace(10,20,0)"], "empty range"),
    (["--sweep", "population.exc.size=[10, 20.5]"], "expected an integer"),
    (["--sweep", "population.exc.size=[10, \"many\"]"], "expected an integer"),
    (["--sweep", "projection.ee.weight=[]"], "empty list"),
    (["--sweep", "simulation.seed=[1, 2]"], "seeds_per_point"),
])
def test_bad_specs_exit_2_before_anything_runs(binary, config, tmp_path, extra, words):
    out = tmp_path / "bad"
    run = sweep(binary, config, "--out", out, *extra)
    assert run.returncode == 2, run.stderr
    assert words in run.stderr
    assert run.stderr.count("\n") == 1 and "error:" in run.stderr
    assert not out.exists()


def test_bad_spec_in_the_file_names_its_line(binary, tmp_path):
    path = tmp_path / "zip.toml"
    path.write_text(CONFIG.replace('mode = "product"', 'mode = "zip"'))
    run = sweep(binary, path, "--out", tmp_path / "z")
    assert run.returncode == 2
    line = CONFIG.splitlines().index('"projection.ee.weight" = { linspace = [0.25, 0.75, 3] }') + 1
    assert f"zip.toml:{line}: key 'sweep.parameters.projection.ee.weight'" in run.stderr
    assert "equal length" in run.stderr
    assert not (tmp_path / "z").exists()


def test_dry_run_lists_points_and_creates_nothing(binary, config, tmp_path):
    before = sorted(os.listdir(tmp_path))
    run = subprocess.run([binary, "sweep", str(config), "--dry-run", "--sweep",
                          "projection.ee.weight=[0.5]"], capture_output=True, text=True,
                         cwd=tmp_path, timeout=60)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("2 points") and "runs/tiny-sweep" in lines[0]
    assert lines[2].split()[2:] == ["points/0000", "4", "0.5"]
    assert lines[3].split()[2:] == ["points/0001", "6", "0.5"]
    assert sorted(os.listdir(tmp_path)) == before


def test_existing_folder_and_different_resume_are_refused(binary, config, tmp_path):
    out = tmp_path / "s"
    sweep(binary, config, "--out", out, "--sweep", "projection.ee.weight=[0.5]",
          "--set", "simulation.duration_ms=50", check=0)
    run = sweep(binary, config, "--out", out, "--sweep", "projection.ee.weight=[0.5]")
    assert run.returncode == 2 and "--resume" in run.stderr
    run = sweep(binary, config, "--resume", out, "--sweep", "projection.ee.weight=[0.6]",
                "--set", "simulation.duration_ms=50")
    assert run.returncode == 2 and "different sweep" in run.stderr
    run = sweep(binary, config, "--resume", out, "--sweep", "projection.ee.weight=[0.5]")
    assert run.returncode == 2 and "config (or --set) differs" in run.stderr
    run = sweep(binary, config, "--resume", out, "--sweep", "projection.ee.weight=[0.5]",
                "--set", "simulation.duration_ms=50", check=0)
    assert "0 to run" in run.stderr
    sweep(binary, config, "--out", out, "--overwrite", "--sweep", "projection.ee.weight=[0.5]",
          check=0)


def test_unset_reaches_every_point(binary, config, tmp_path):
    """--unset removes a key for the whole sweep before --set: the base config lacks it and
    every point runs with the key's default (population.inh.drive: mean 0, sigma 0, the
    documented defaults of a population's drive), where the config says mean 2, sigma 3."""
    import tomllib
    out = tmp_path / "sweep"
    sweep(binary, config, "--unset", "population.inh.drive", "--jobs", 2, "--out", out, check=0)
    base = tomllib.loads((out / "base_config.toml").read_text())
    assert "drive" not in next(p for p in base["population"] if p["name"] == "inh")
    rows = index_rows(out)
    assert len(rows) == 2 * 3 and all(r["status"] == "done" for r in rows)  # CONFIG: 2 x 3
    for r in rows:
        resolved = tomllib.loads((out / r["folder"] / "config.toml").read_text())
        inh = next(p for p in resolved["population"] if p["name"] == "inh")
        assert inh["drive"]["mean"] == 0.0 and inh["drive"]["noise_sigma"] == 0.0
    # A key that is not there is refused before anything runs.
    bad = sweep(binary, config, "--unset", "population.inh.nothing", "--out", tmp_path / "bad",
                check=2)
    assert "the config has no 'population.inh.nothing' to remove" in bad.stderr
    assert not (tmp_path / "bad").exists()
