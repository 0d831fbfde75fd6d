"""Malformed or missing input: one clear message naming the file and what is wrong,
exit code 2 on the command line, never a traceback."""

import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

from analysis import io as aio
from analysis.cli import main
from analysis.errors import AnalysisInputError
from sonata_files import write_spike_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def good(tmp_path, name="s.h5", **kw):
    times = np.array([1.0, 2.0, 3.5, 7.0])
    ids = np.array([0, 1, 0, 2], dtype=np.uint64)
    return write_spike_file(tmp_path / name, {"exc": (times, ids, 3)}, duration_ms=10.0, **kw)


def edit(path, fn):
    with h5py.File(path, "a") as f:
        fn(f)
    return path


def replace(group_path, name, data):
    def fn(f):
        del f[group_path][name]
        f[group_path].create_dataset(name, data=data)
    return fn


def truncate(path):
    size = os.path.getsize(path)
    with open(path, "r+b") as fh:
        fh.truncate(size // 2)
    return path


CASES = {
    "missing file": (lambda p: str(p) + ".nope", "no such file"),
    "not hdf5": (lambda p: (open(p, "w").write("time,id\n1,2\n"), p)[1],
                 "cannot be read as HDF5"),
    "truncated": (truncate, "cannot be read as HDF5"),
    "no /spikes": (lambda p: edit(p, lambda f: f.__delitem__("spikes")),
                   "/spikes: group missing"),
    "no node_ids": (lambda p: edit(p, lambda f: f["spikes/exc"].__delitem__("node_ids")),
                    "/spikes/exc/node_ids: dataset missing"),
    "no timestamps": (lambda p: edit(p, lambda f: f["spikes/exc"].__delitem__("timestamps")),
                      "/spikes/exc/timestamps: dataset missing"),
    "string timestamps": (lambda p: edit(p, replace("spikes/exc", "timestamps",
                                                   np.array([b"a", b"b", b"c", b"d"]))),
                          "/spikes/exc/timestamps: expected floating point"),
    "float node ids": (lambda p: edit(p, replace("spikes/exc", "node_ids",
                                                np.array([0.0, 1.0, 0.0, 2.0]))),
                       "/spikes/exc/node_ids: expected unsigned integer"),
    "2-D timestamps": (lambda p: edit(p, replace("spikes/exc", "timestamps",
                                                np.zeros((2, 2)))),
                       "/spikes/exc/timestamps: expected a 1-D dataset"),
    "length mismatch": (lambda p: edit(p, replace("spikes/exc", "node_ids",
                                                 np.array([0, 1, 0], dtype=np.uint64))),
                        "timestamps has 4 entries but node_ids has 3"),
    "wrong magic": (lambda p: edit(p, lambda f: f.attrs.__setitem__("magic", np.uint32(7))),
                    "magic' is 0x0007, expected 0x0a7a"),
    "half population table": (lambda p: edit(p, lambda f: f["run"].__delitem__(
        "population_sizes")), "/run/population_sizes: dataset missing"),
    "id beyond size": (lambda p: edit(p, replace("run", "population_sizes",
                                                np.array([2], dtype=np.uint32))),
                       "node id 2 is out of range: population 'exc' has 2 neurons"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_reader_error_names_file_and_problem(tmp_path, case):
    make, needle = CASES[case]
    path = make(good(tmp_path))
    with pytest.raises(AnalysisInputError) as info:
        aio.read_spikes(path)
    message = str(info.value)
    assert os.fspath(path) in message and needle in message


@pytest.mark.parametrize("case", list(CASES))
def test_cli_exit_code_2_and_one_line(tmp_path, case, capsys):
    make, needle = CASES[case]
    path = make(good(tmp_path))
    code = main(["summary", os.fspath(path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and needle in err[0] and os.fspath(path) in err[0]


def test_unknown_population_lists_the_known_ones(tmp_path, capsys):
    path = good(tmp_path)
    assert main(["raster", path, "-p", "inh", "-o", os.fspath(tmp_path / "r.png")]) == 2
    err = capsys.readouterr().err
    assert "unknown population 'inh' (the file has: exc)" in err and path in err
    assert not os.path.exists(tmp_path / "r.png")


def test_bad_requests(tmp_path, capsys):
    path = good(tmp_path)
    out = os.fspath(tmp_path / "x.png")
    for argv, needle in [
        (["raster", path, "-o", os.fspath(tmp_path / "x.bmp")], "unknown figure format '.bmp'"),
        (["raster", path, "-o", os.fspath(tmp_path / "no" / "x.png")], "does not exist"),
        (["raster", path, "--t-start", "5", "--t-stop", "5", "-o", out], "empty time window"),
        (["psth", path, "-o", out], "/trials: group missing"),
        (["traces", path, "-o", out], "/traces: group missing"),
        (["sweep", os.fspath(tmp_path), "--metric", "m", "--x", "p", "-o", out],
         "no index.h5 or index.csv"),
        (["export", path, "-o", os.fspath(tmp_path / "x.txt")], "unknown export format"),
    ]:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert needle in err and len(err.strip().splitlines()) == 1, (argv, err)


def test_trial_and_trace_problems(tmp_path, capsys):
    path = good(tmp_path, trials={"start_ms": np.array([1.0, 5.0]),
                                  "cue": np.array([0, 1, 1], dtype=np.int32)},
                traces={"exc": {"node_ids": np.array([0, 1], dtype=np.uint64),
                                "time_ms": np.arange(4.0), "v_mV": np.zeros((4, 3))}})
    out = os.fspath(tmp_path / "x.png")
    assert main(["psth", path, "-o", out]) == 2
    assert "/trials/" in capsys.readouterr().err  # unequal column lengths
    assert main(["traces", path, "-o", out]) == 2
    err = capsys.readouterr().err
    assert "/traces/exc/v_mV: expected shape (T, k) = (4, 2), found (4, 3)" in err


def test_incomplete_run_still_works_but_warns(tmp_path, capsys):
    path = good(tmp_path, complete=0, steps_done=50)
    assert main(["summary", path]) == 0
    captured = capsys.readouterr()
    assert "WARNING" in captured.err and "complete = 0" in captured.err
    assert "window: [0, 5) ms" in captured.out  # 50 steps of 0.1 ms


def test_real_process_prints_no_traceback(tmp_path):
    """The module entry point, as snnsim plot execs it."""
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 20)
    env = dict(os.environ, PYTHONPATH=ROOT)
    r = subprocess.run([sys.executable, "-m", "analysis", "raster", os.fspath(bad), "-o",
                        os.fspath(tmp_path / "r.png")], capture_output=True, text=True,
                       env=env, cwd=tmp_path)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and os.fspath(bad) in r.stderr
    r = subprocess.run([sys.executable, "-m", "analysis", "raster", "--nonsense"],
                       capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_closed_stdout_pipe_prints_no_traceback(tmp_path):
    """``python3 -m analysis summary RUN | head -1``: the reader goes away before the output
    is written. Here the pipe's read end is closed before the process starts, so the first
    write fails for certain (with head it is a race). The process must stop quietly with
    128 + SIGPIPE, as a shell tool does, not with a BrokenPipeError traceback."""
    path = write_spike_file(tmp_path / "s.h5", {"exc": (np.array([1.0, 2.0]), np.array([0, 1]),
                                                        4)}, duration_ms=10.0)
    env = dict(os.environ, PYTHONPATH=ROOT)
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        r = subprocess.run([sys.executable, "-m", "analysis", "summary", os.fspath(path)],
                           stdout=write_end, stderr=subprocess.PIPE, text=True, env=env,
                           cwd=tmp_path)
    finally:
        os.close(write_end)
    assert "Traceback" not in r.stderr and "BrokenPipeError" not in r.stderr, r.stderr
    assert r.returncode == 141
