"""End-to-end tests of the snnsim command line: the SONATA file a real run writes, read
back with plain h5py; one-line errors with file, line and key for bad input; an
interrupted run; the info, list, --version and plot subcommands."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import tomllib

import h5py
import numpy as np
import pytest

from engine import (EXPERIMENTS, ROOT, SMALL_CONFIG, binary, line_of, quiet_openmp_env, snnsim,
                    write_config)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run_ok(*args, cwd) -> subprocess.CompletedProcess:
    r = snnsim(*args, cwd=cwd)
    assert r.returncode == 0, f"snnsim {' '.join(map(str, args))} failed:\n{r.stderr}"
    return r


def spikes_of(path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    with h5py.File(path, "r") as f:
        return {p: (f[f"spikes/{p}/timestamps"][()], f[f"spikes/{p}/node_ids"][()])
                for p in f["spikes"]}


# --------------------------------------------------------------------------- 1. layout

def test_sonata_layout_of_a_real_run(tmp_path):
    config = write_config(tmp_path)
    dt_ms = 0.1  # not a binary fraction: times must still be exactly step * dt
    run_ok("run", config.name, "--set", f"simulation.dt_ms={dt_ms}", "--out", "run",
           cwd=tmp_path)
    folder = tmp_path / "run"
    assert (folder / "config.toml").is_file() and (folder / "run.log").is_file()
    assert "snnsim" in (folder / "run.log").read_text()

    with h5py.File(folder / "spikes.h5", "r") as f:
        # Root attributes of a SONATA spike file (SONATA data format, "Spike file").
        magic = f.attrs["magic"]
        assert magic.dtype == np.uint32 and int(magic) == 0x0A7A
        version = f.attrs["version"]
        assert version.dtype == np.uint32 and version.tolist() == [0, 1]

        run = f["run"].attrs
        assert int(run["seed"]) == 7
        assert float(run["dt_ms"]) == dt_ms
        assert float(run["duration_ms"]) == 200.0
        assert int(run["steps_done"]) == 2000 == int(run["steps_planned"])  # 200 ms / 0.1 ms
        assert int(run["complete"]) == 1
        assert run["experiment"] == "small"
        assert int(run["threads"]) == 1
        version_line = run_ok("--version", cwd=tmp_path).stdout
        assert run["engine_version"] in version_line and run["git_hash"] in version_line
        resolved = tomllib.loads(run["config_toml"])
        assert resolved == tomllib.loads((folder / "config.toml").read_text())
        assert resolved["simulation"]["dt_ms"] == dt_ms and resolved["simulation"]["seed"] == 7
        names = [n.decode() if isinstance(n, bytes) else n
                 for n in f["run/population_names"][()]]
        assert names == ["exc", "inh"]
        assert f["run/population_sizes"][()].tolist() == [40, 10]

        assert sorted(f["spikes"]) == ["exc", "inh"]
        for pop, size in (("exc", 40), ("inh", 10)):
            g = f[f"spikes/{pop}"]
            sorting = g.attrs.get_id("sorting")
            assert sorting.dtype == np.uint8
            assert h5py.check_enum_dtype(sorting.dtype) == {"none": 0, "by_id": 1,
                                                            "by_time": 2}
            assert int(g.attrs["sorting"]) == 2  # by_time
            ts, ids = g["timestamps"], g["node_ids"]
            assert ts.dtype == np.float64 and ts.attrs["units"] == "ms"
            assert ids.dtype == np.uint64
            t, i = ts[()], ids[()]
            assert t.size == i.size > 20  # both populations fire under their drive
            assert i.max() < size
            # Sorted by time, ties by node id, no spike twice: strictly increasing pairs.
            later = (t[1:] > t[:-1]) | ((t[1:] == t[:-1]) & (i[1:] > i[:-1]))
            assert later.all()
            # Every time is step * dt exactly, for whole steps in [0, 2000).
            steps = np.rint(t / dt_ms)
            np.testing.assert_array_equal(t, steps * dt_ms)
            assert steps.min() >= 0 and steps.max() < 2000


def test_resolved_config_reruns_to_the_same_spikes(tmp_path):
    config = write_config(tmp_path)
    run_ok("run", config.name, "--set", "population.exc.size=30", "--seed", "11", "--out",
           "first", cwd=tmp_path)
    # The resolved config.toml carries the overrides and the seed: no --set needed.
    run_ok("run", "first/config.toml", "--out", "second", cwd=tmp_path)
    a, b = spikes_of(tmp_path / "first/spikes.h5"), spikes_of(tmp_path / "second/spikes.h5")
    assert a.keys() == b.keys()
    for pop in a:
        np.testing.assert_array_equal(a[pop][0], b[pop][0])
        np.testing.assert_array_equal(a[pop][1], b[pop][1])
    with h5py.File(tmp_path / "second/spikes.h5", "r") as f:
        assert int(f["run"].attrs["seed"]) == 11
        assert f["run/population_sizes"][()].tolist() == [30, 10]


# --------------------------------------------------------------------------- 3. bad input

def edit(old: str, new: str):
    """A config edit: SMALL_CONFIG with one line changed."""
    assert SMALL_CONFIG.count(old) == 1, old
    return SMALL_CONFIG.replace(old, new)


# (id, config text, text on the offending line, dotted key, message fragment)
CONFIG_ERRORS = [
    ("unknown key", edit("seed = 7", "sead = 7"), "sead = 7", "simulation.sead",
     "unknown key 'simulation.sead' (did you mean 'seed'?)"),
    ("wrong type", edit("size = 40", 'size = "forty"'), 'size = "forty"', "population.exc.size",
     "expected an integer, got a string"),
    ("negative delay", edit("delay_ms = 1.5", "delay_ms = -1.0"), "delay_ms = -1.0",
     "projection[0].delay_ms", "expected a delay > 0 ms, got -1"),
    ("zero dt", edit("dt_ms = 0.5", "dt_ms = 0.0"), "dt_ms = 0.0", "simulation.dt_ms",
     "expected dt_ms > 0, got 0"),
    ("negative dt", edit("dt_ms = 0.5", "dt_ms = -0.1"), "dt_ms = -0.1", "simulation.dt_ms",
     "expected dt_ms > 0, got -0.1"),
    ("delay off the dt grid", edit("delay_ms = 1.5", "delay_ms = 1.2"), "delay_ms = 1.2",
     "projection[0].delay_ms", "1.2 ms is not a whole number of steps of dt = 0.5 ms"),
    ("probability above 1", edit("probability = 0.2", "probability = 1.5"), "probability = 1.5",
     "projection[0].probability", "expected a probability in [0, 1], got 1.5"),
    ("zero neurons", edit("size = 10", "size = 0"), "size = 0", "population.inh.size",
     "expected 1 <= size <= 2^30 neurons, got 0"),
    ("unknown population", edit('target = "inh"', 'target = "inhh"'), 'target = "inhh"',
     "projection[0].target", "no population named 'inhh' (did you mean 'inh'?)"),
    ("unknown experiment type", edit('type = "network"', 'type = "netwrk"'),
     'type = "netwrk"', "experiment.type",
     'unknown experiment type "netwrk" (did you mean "network"?)'),
    # Regression: 2e302 steps overflowed the step counter and the run never ended.
    ("too many steps", edit("dt_ms = 0.5", "dt_ms = 1e-300"), "duration_ms = 200.0",
     "simulation.duration_ms", "200 ms is more than 2^53 steps of dt = 1e-300 ms"),
    # Regression: 3e9 ms / 0.5 ms = 6e9 steps does not fit the engine's 32-bit step
    # counts; it wrapped around to a short delay (or ran out of memory) without a word.
    # Delays are now bounded at 2^20 steps, which also bounds the spike-history memory.
    ("delay beyond 2^32 steps", edit("delay_ms = 1.5", "delay_ms = 3e9"),
     "delay_ms = 3e9", "projection[0].delay_ms",
     "the longest delay, 3000000000 ms, is 6000000000 steps of dt = 0.5 ms: more than the "
     "1048576 steps (2^20) a delay can have"),
    ("delay beyond 2^20 steps", edit("delay_ms = 1.5", "delay_ms = 524288.5"),
     "delay_ms = 524288.5", "projection[0].delay_ms",
     "the longest delay, 524288.5 ms, is 1048577 steps of dt = 0.5 ms: more than the "
     "1048576 steps (2^20) a delay can have"),
    # A synapse packs target and delay into 32 bits (sim/network.hpp): 2^20 steps need 21
    # bits, 5000 neurons (padded to 5056) another 13.
    ("delay and target beyond the synapse code",
     edit("size = 10", "size = 5000").replace("delay_ms = 1.5", "delay_ms = 524288.0"),
     "delay_ms = 524288.0", "projection[0].delay_ms",
     "delays up to 1048576 steps into 'inh' (5000 neurons) do not fit the 32-bit synapse code"),
    # A population's charge ring holds one row of its neurons per step of its longest incoming
    # delay: 2^20 steps x 2^29 neurons x 8 bytes = 2^52 bytes = 2^22 GiB, more than any
    # machine's memory (a dense all-to-all projection: no synapse code to overflow first).
    ("charge ring beyond memory",
     edit("size = 10", "size = 536870912")
     .replace('rule = "fixed_probability"\nprobability = 0.2', 'rule = "all_to_all"')
     .replace("delay_ms = 1.5", "delay_ms = 524288.0"),
     "delay_ms = 524288.0", "projection[0].delay_ms",
     "the charge rings (one row of a population's neurons per step of its longest incoming "
     "delay) need 4194304.0 GiB"),
]


def assert_one_line_error(r: subprocess.CompletedProcess, *fragments: str) -> str:
    assert r.returncode == 2, f"exit {r.returncode}, stderr:\n{r.stderr}"
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got:\n{r.stderr}"
    assert lines[0].startswith("snnsim: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    assert "Traceback" not in r.stderr and r.stdout == ""
    return lines[0]


@pytest.mark.parametrize("text,needle,key,message", [c[1:] for c in CONFIG_ERRORS],
                         ids=[c[0] for c in CONFIG_ERRORS])
def test_config_error_names_file_line_and_key(tmp_path, text, needle, key, message):
    config = write_config(tmp_path, text, "bad.toml")
    r = snnsim("run", config.name, "--out", "out", cwd=tmp_path)
    line = line_of(text, needle)
    assert_one_line_error(r, f"snnsim: error: bad.toml:{line}: key '{key}': {message}")
    assert not (tmp_path / "out").exists()


def test_missing_config_file(tmp_path):
    r = snnsim("run", "nosuch.toml", "--out", "out", cwd=tmp_path)
    assert_one_line_error(r, "snnsim: error: nosuch.toml: config file not found")
    assert not (tmp_path / "out").exists()


def test_toml_syntax_error(tmp_path):
    text = "[simulation]\ndt_ms = 1.0\nduration_ms = = 3\n"
    config = write_config(tmp_path, text, "broken.toml")
    r = snnsim("run", config.name, "--out", "out", cwd=tmp_path)
    assert_one_line_error(r, "snnsim: error: broken.toml:3: TOML syntax error")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("out,message", [
    ("afile", "snnsim: error: afile: key '--out': exists and is not a folder"),
    ("afile/sub", "snnsim: error: afile/sub: key '--out': cannot create the output folder"),
])
def test_impossible_out_path(tmp_path, out, message):
    config = write_config(tmp_path)
    (tmp_path / "afile").write_text("not a folder")
    r = snnsim("run", config.name, "--out", out, cwd=tmp_path)
    assert_one_line_error(r, message)
    assert (tmp_path / "afile").read_text() == "not a folder"


def test_unwritable_out_path(tmp_path):
    # /proc refuses new folders even to root (file permissions would not stop root).
    config = write_config(tmp_path)
    r = snnsim("run", config.name, "--out", "/proc/snnsim-test-run", cwd=tmp_path)
    assert_one_line_error(r, "/proc/snnsim-test-run: key '--out': cannot create the output "
                          "folder")


def test_existing_output_folder_and_overwrite(tmp_path):
    config = write_config(tmp_path)
    run_ok("run", config.name, "--out", "run", cwd=tmp_path)
    first = spikes_of(tmp_path / "run/spikes.h5")
    r = snnsim("run", config.name, "--seed", "8", "--out", "run", cwd=tmp_path)
    assert_one_line_error(r, "snnsim: error: run: key '--out': the output folder already "
                          "holds results; choose another --out or pass --overwrite")
    assert spikes_of(tmp_path / "run/spikes.h5")["exc"][0].tolist() == first["exc"][0].tolist()

    run_ok("run", config.name, "--seed", "8", "--out", "run", "--overwrite", cwd=tmp_path)
    with h5py.File(tmp_path / "run/spikes.h5", "r") as f:
        assert int(f["run"].attrs["seed"]) == 8
    assert sorted(os.listdir(tmp_path / "run")) == ["config.toml", "run.log", "spikes.h5"]

    # A folder with anything snnsim did not write is never emptied.
    (tmp_path / "run/notes.txt").write_text("mine")
    r = snnsim("run", config.name, "--out", "run", "--overwrite", cwd=tmp_path)
    assert_one_line_error(r, "snnsim: error: run: key '--out': refusing to overwrite: the "
                          "folder holds files that snnsim did not write")
    assert (tmp_path / "run/notes.txt").read_text() == "mine"
    assert (tmp_path / "run/spikes.h5").exists()


SET_ERRORS = [
    ("unknown element", "population.exx.size=3",
     "snnsim: error: --set population.exx.size=3: key 'population.exx.size': no element "
     "named 'exx' in [[population]] (did you mean 'exc'?)"),
    ("non-table path", "simulation.seed.x=3",
     "snnsim: error: --set simulation.seed.x=3: key 'simulation.seed.x': 'simulation.seed' "
     "is not a table"),
    ("no equals sign", "simulation", "snnsim: error: --set simulation: expected --set "
     "dotted.key=value"),
    # The next three failed to name the --set (they blamed the config file) until the
    # override kept its source region; regression tests for that fix.
    ("unknown key", "simulation.sead=3",
     "snnsim: error: --set simulation.sead=3: key 'simulation.sead': unknown key "
     "'simulation.sead' (did you mean 'seed'?)"),
    ("bad value", "simulation.dt_ms=0",
     "snnsim: error: --set simulation.dt_ms=0: key 'simulation.dt_ms': expected dt_ms > 0"),
    ("new table", "simulaton.seed=3",
     "snnsim: error: --set simulaton.seed=3: key 'simulaton': unknown key 'simulaton' "
     "(did you mean 'simulation'?)"),
    ("experiment type", "experiment.type=netwrk",
     "snnsim: error: --set experiment.type=netwrk: key 'experiment.type': unknown experiment "
     'type "netwrk" (did you mean "network"?)'),
]


UNSET_ERRORS = [
    ("missing key", "simulation.sead",
     "snnsim: error: --unset simulation.sead: key 'simulation.sead': the config has no "
     "'simulation.sead' to remove"),
    ("missing table", "simulaton.seed",
     "snnsim: error: --unset simulaton.seed: key 'simulaton.seed': the config has no "
     "'simulaton' to remove"),
    ("with a value", "simulation.seed=3",
     "snnsim: error: --unset simulation.seed=3: key 'simulation.seed=3': expected --unset "
     "dotted.key (no value)"),
    ("unknown element", "population.exx.size",
     "snnsim: error: --unset population.exx.size: key 'population.exx.size': no element "
     "named 'exx' in [[population]] (did you mean 'exc'?)"),
]


@pytest.mark.parametrize("flag,arg,message",
                         [("--set", *c[1:]) for c in SET_ERRORS] +
                         [("--unset", *c[1:]) for c in UNSET_ERRORS],
                         ids=[f"set {c[0]}" for c in SET_ERRORS] +
                             [f"unset {c[0]}" for c in UNSET_ERRORS])
def test_bad_set_or_unset(tmp_path, flag, arg, message):
    config = write_config(tmp_path)
    r = snnsim("run", config.name, flag, arg, "--out", "out", cwd=tmp_path)
    assert_one_line_error(r, message)
    assert not (tmp_path / "out").exists()


def test_unset_gives_the_default_and_set_refills(tmp_path):
    """--unset population.exc.drive.noise_sigma gives the same spikes as a config file
    without that key (the default, no noise) and not those of the config as it is;
    --unset then --set of one key equals the --set alone (removals come first)."""
    config = write_config(tmp_path)
    text = config.read_text()
    old = "drive = { mean = 6.0, noise_sigma = 3.0 }"
    assert text.count(old) == 1
    write_config(tmp_path, text.replace(old, "drive = { mean = 6.0 }"), "edited.toml")
    run_ok("run", config.name, "--unset", "population.exc.drive.noise_sigma", "--out", "unset",
           cwd=tmp_path)
    run_ok("run", "edited.toml", "--out", "edited", cwd=tmp_path)
    run_ok("run", config.name, "--out", "plain", cwd=tmp_path)
    a, b = spikes_of(tmp_path / "unset/spikes.h5"), spikes_of(tmp_path / "edited/spikes.h5")
    c = spikes_of(tmp_path / "plain/spikes.h5")
    for p in b:
        np.testing.assert_array_equal(a[p][0], b[p][0])
        np.testing.assert_array_equal(a[p][1], b[p][1])
    assert len(b["exc"][0]) > 0 and not np.array_equal(b["exc"][0], c["exc"][0])
    run_ok("run", config.name, "--unset", "population.exc.drive.mean", "--set",
           "population.exc.drive.mean=7", "--out", "refill", cwd=tmp_path)
    run_ok("run", config.name, "--set", "population.exc.drive.mean=7", "--out", "set",
           cwd=tmp_path)
    a, b = spikes_of(tmp_path / "refill/spikes.h5"), spikes_of(tmp_path / "set/spikes.h5")
    for p in b:
        np.testing.assert_array_equal(a[p][0], b[p][0])
        np.testing.assert_array_equal(a[p][1], b[p][1])


@pytest.mark.parametrize("flags,fragments", [
    (["--threads", "0"], ["--threads", "0 not in range 1 to 1024"]),
    (["--seed", "-1"], ["--seed", "expected an integer >= 0, got -1"]),
    (["--bogus"], ["--bogus"]),
])
def test_bad_flags(tmp_path, flags, fragments):
    # CLI11 used to print two lines (and --seed -1 the range up to the largest double).
    config = write_config(tmp_path)
    r = snnsim("run", config.name, *flags, "--out", "out", cwd=tmp_path)
    line = assert_one_line_error(r, *fragments)
    assert len(line) < 200
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- 4. interrupt

def test_interrupted_run(tmp_path):
    # Planned far longer than the test waits: 1e7 ms of the 1000-neuron 2003 network.
    planned_ms = 10_000_000
    proc = subprocess.Popen([binary(), "run", str(EXPERIMENTS / "izhikevich2003.toml"),
                             "--set", f"simulation.duration_ms={planned_ms}",
                             "--set", "simulation.flush_interval_ms=100", "--out", "run"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=quiet_openmp_env())
    try:
        deadline = time.monotonic() + 20
        while not (tmp_path / "run/spikes.h5").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "INTERRUPTED" in err

    path = tmp_path / "run/spikes.h5"
    with h5py.File(path, "r") as f:
        run = f["run"].attrs
        assert int(run["complete"]) == 0
        done, planned = int(run["steps_done"]), int(run["steps_planned"])
        assert planned == planned_ms and 0 < done < planned
        assert float(run["duration_ms"]) == done * 1.0
        t = f["spikes/exc/timestamps"][()]
        ids = f["spikes/exc/node_ids"][()]
        # The spikes simulated so far are all there, and none beyond the steps done.
        assert t.size == ids.size > 0
        assert t.max() < done and t.max() > 0.5 * done

    info = run_ok("info", path, cwd=tmp_path)
    assert "INCOMPLETE" in info.stdout and f"{done} steps of {planned} planned" in info.stdout

    r = subprocess.run([sys.executable, "-m", "analysis", "summary", str(path)], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert f"WARNING: {path}: /run complete = 0" in r.stderr


# --------------------------------------------------------------------------- 5. subcommands

def test_info_list_version_and_plot(tmp_path):
    config = write_config(tmp_path)
    run_ok("run", config.name, "--out", "run", cwd=tmp_path)
    with h5py.File(tmp_path / "run/spikes.h5", "r") as f:
        n_exc = f["spikes/exc/timestamps"].shape[0]

    info = run_ok("info", "run/spikes.h5", cwd=tmp_path).stdout
    assert "status: complete" in info
    exc_row = [ln.split() for ln in info.splitlines() if ln.split()[:1] == ["exc"]]
    assert exc_row and exc_row[0][1:3] == ["40", str(n_exc)]

    listing = run_ok("list", cwd=tmp_path).stdout
    assert listing.split()[0] == "network"
    assert "experiments/izhikevich2003.toml" in listing

    version = run_ok("--version", cwd=tmp_path).stdout.strip()
    assert version.startswith("snnsim ") and "git" in version

    r = run_ok("plot", "raster", "run/spikes.h5", "-o", "x.png", cwd=tmp_path)
    png = (tmp_path / "x.png").read_bytes()
    assert png.startswith(PNG_SIGNATURE) and len(png) > 1000
    assert "x.png" in r.stdout


@pytest.mark.parametrize("make", ["missing", "not hdf5"])
def test_plot_bad_file(tmp_path, make):
    if make == "not hdf5":
        (tmp_path / "bad.h5").write_text("hello")
    r = snnsim("plot", "raster", "bad.h5", "-o", "x.png", cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad.h5" in lines[0] and "Traceback" not in r.stderr, r.stderr
    assert lines[0].startswith("snnsim plot raster: error: ")
    assert not (tmp_path / "x.png").exists()


def test_info_bad_file(tmp_path):
    (tmp_path / "bad.h5").write_text("hello")
    r = snnsim("info", "bad.h5", cwd=tmp_path)
    assert_one_line_error(r, "snnsim: error: bad.h5: not an HDF5 file")


def test_isi_plot_and_npz_export_of_a_real_run(tmp_path):
    config = write_config(tmp_path)
    run_ok("run", config.name, "--out", "run", cwd=tmp_path)
    run_ok("plot", "isi", "run", "-o", "isi.png", cwd=tmp_path)
    assert (tmp_path / "isi.png").read_bytes().startswith(PNG_SIGNATURE)
    r = run_ok("plot", "export", "run", "-o", "s.npz", cwd=tmp_path)
    z = np.load(tmp_path / "s.npz")
    raw = spikes_of(tmp_path / "run/spikes.h5")
    assert r.stdout.strip() == f"wrote {z['times_ms'].size} spikes to s.npz"
    for k, pop in enumerate(z["population_names"].tolist()):
        sel = z["population"] == k
        np.testing.assert_array_equal(z["times_ms"][sel], raw[pop][0])
        np.testing.assert_array_equal(z["node_ids"][sel], raw[pop][1].astype(np.int64))


# --------------------------------------------------------------------------- bench

def test_bench_reports_the_sparse_layout_at_8_bytes_per_synapse(tmp_path):
    # Not a timing test: it checks that `snnsim bench` runs and reports the memory the
    # engine's layout promises for benchmark (b) (network.hpp): 8 bytes per synapse when
    # every row has the same length (fixed out-degree), plus one byte per source neuron and
    # projection for where the second thread's stretch of the row starts: 1e6 synapses; the
    # projections have 8000 + 8000 (excitatory) + 2000 + 2000 (inhibitory) sources.
    r = run_ok("bench", "--quick", "--case", "sparse10k", "--threads", "1", "2", "--repeat", "2",
               cwd=tmp_path)
    rows = {int(line.split()[1]): line.split() for line in r.stdout.splitlines()
            if line.startswith("sparse10k")}
    assert set(rows) == {1, 2}, r.stdout
    assert float(rows[1][-1]) == pytest.approx(8.00, abs=0.005)
    assert float(rows[2][-1]) == pytest.approx(8.00 + 20000 / 1e6, abs=0.005)
    for row in rows.values():
        assert float(row[4]) > 0  # wall seconds
        assert float(row[8]) > 0  # mean rate
