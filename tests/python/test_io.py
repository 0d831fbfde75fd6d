"""Readers: spikes (windows, id subsets, every sorting spelling, streaming), /run,
/trials, /traces, sweep indexes, neo conversion and exports. Expected values are
computed in the test from the arrays written, with plain numpy masks."""

import csv
import math

import h5py
import numpy as np
import pytest

from analysis import io as aio
from sonata_files import order_spikes, poisson_spikes, write_spike_file, write_sweep


@pytest.fixture
def two_pops(tmp_path):
    rng = np.random.default_rng(7)
    exc = poisson_spikes(rng, 80, 20.0, 1000.0)
    inh = poisson_spikes(rng, 20, 40.0, 1000.0)
    return {"exc": (*exc, 80), "inh": (*inh, 20)}


def expected(times, ids, t0, t1, subset=None):
    """Independent selection: mask, then order by time, ties by id."""
    times, ids = np.asarray(times), np.asarray(ids).astype(np.int64)
    m = (times >= t0) & (times < t1)
    if subset is not None:
        m &= np.isin(ids, subset)
    t, i = times[m], ids[m]
    o = np.lexsort((i, t))
    return t[o], i[o]


@pytest.mark.parametrize("sorting", ["by_time", "by_id", "none"])
@pytest.mark.parametrize("sorting_as", ["enum", "string", "int", "absent"])
def test_window_and_subset_match_numpy_for_every_sorting(tmp_path, two_pops, sorting,
                                                         sorting_as):
    path = write_spike_file(tmp_path / "s.h5", two_pops, sorting=sorting,
                            sorting_as=sorting_as, chunk=257)
    with aio.SpikeFile(path) as f:
        want_sorting = sorting if sorting_as != "absent" else "none"
        assert f.sorting == {"exc": want_sorting, "inh": want_sorting}
        assert f.populations == ["exc", "inh"]
        for pop, (times, ids, size) in two_pops.items():
            for t0, t1, subset in [(0.0, 1000.0, None), (123.4, 456.7, None),
                                   (250.0, 250.1, None), (600.0, 900.0, [0, 3, 5, 17]),
                                   (999.95, 2000.0, None)]:
                s = f.read(pop, t0, t1, node_ids=subset, chunk_size=300)
                want_t, want_i = expected(times, ids, t0, t1, subset)
                np.testing.assert_array_equal(s.times_ms, want_t)
                np.testing.assert_array_equal(s.node_ids, want_i)
                assert s.n_neurons == size and s.t_start_ms == t0 and s.t_stop_ms == t1


def test_default_window_is_the_simulated_duration(tmp_path, two_pops):
    path = write_spike_file(tmp_path / "s.h5", two_pops, duration_ms=1000.0)
    spikes = aio.read_spikes(path)
    assert set(spikes) == {"exc", "inh"}
    for pop, (times, ids, _) in two_pops.items():
        assert spikes[pop].t_start_ms == 0.0 and spikes[pop].t_stop_ms == 1000.0
        assert spikes[pop].n_spikes == len(times)  # all spikes are in [0, 1000)


def test_run_folder_stands_for_its_spikes_file(tmp_path, two_pops):
    write_spike_file(tmp_path / "spikes.h5", two_pops)
    assert aio.read_spikes(tmp_path, "inh")["inh"].n_spikes == len(two_pops["inh"][0])


class CountingDataset:
    """Wraps an h5py dataset and counts the elements each read returns."""

    def __init__(self, ds):
        self.ds, self.elements, self.reads, self.largest = ds, 0, 0, 0

    def __len__(self):
        return len(self.ds)

    @property
    def shape(self):
        return self.ds.shape

    @property
    def chunks(self):
        return self.ds.chunks

    def __getitem__(self, key):
        out = np.asarray(self.ds[key])
        self.elements += max(out.size, 1)
        self.reads += 1
        self.largest = max(self.largest, out.size)
        return out


def test_binary_search_reads_only_log_n_elements_plus_one_block(tmp_path):
    n = 400_000
    times = np.arange(n) * 0.1  # one spike per step, by_time
    with h5py.File(tmp_path / "t.h5", "w") as f:
        f.create_dataset("t", data=times, chunks=(8192,))
    with h5py.File(tmp_path / "t.h5", "r") as f:
        for value in (-1.0, 0.0, 1234.56, 20000.0, 39999.9, 1e9):
            ds = CountingDataset(f["t"])
            got = aio.sorted_search(ds, value)
            assert got == int(np.searchsorted(times, value, side="left"))
            # log2(400000 / 4096) < 7 single reads, then one block of at most 4096.
            assert ds.reads <= 8 and ds.elements <= 7 + 4096


def test_window_of_a_by_time_file_touches_only_the_window(tmp_path):
    rng = np.random.default_rng(3)
    times, ids = poisson_spikes(rng, 1000, 20.0, 10000.0)  # ~200k spikes
    path = write_spike_file(tmp_path / "big.h5", {"exc": (times, ids, 1000)},
                            duration_ms=10000.0, chunk=8192)
    with aio.SpikeFile(path) as f:
        group = f._groups["exc"]
        counters = {k: CountingDataset(group[k]) for k in ("timestamps", "node_ids")}
        f._groups["exc"] = counters
        s = f.read("exc", 5000.0, 5100.0)
    want_t, want_i = expected(times, ids, 5000.0, 5100.0)
    np.testing.assert_array_equal(s.times_ms, want_t)
    np.testing.assert_array_equal(s.node_ids, want_i)
    window = want_t.size
    assert window > 1000 and times.size > 100 * window
    # Two searches (each <= ~6 single reads + one 4096 block) and the window itself.
    assert counters["timestamps"].elements <= window + 2 * (8 + 4096)
    assert counters["node_ids"].elements == window


def test_unsorted_file_is_scanned_in_bounded_chunks(tmp_path):
    rng = np.random.default_rng(4)
    times, ids = poisson_spikes(rng, 200, 20.0, 5000.0)  # ~20k spikes
    path = write_spike_file(tmp_path / "u.h5", {"exc": (times, ids, 200)}, sorting="none",
                            duration_ms=5000.0, chunk=1000)
    with aio.SpikeFile(path) as f:
        group = f._groups["exc"]
        counters = {k: CountingDataset(group[k]) for k in ("timestamps", "node_ids")}
        f._groups["exc"] = counters
        chunks = list(f.iter_chunks("exc", 100.0, 4000.0, chunk_size=3000))
        # Every read is one step: the largest multiple of the 1000-spike HDF5 chunk
        # that fits in 3000; together they cover the file once.
        assert counters["timestamps"].largest == 3000
        assert counters["timestamps"].elements == times.size
        s = f.read("exc", 100.0, 4000.0)
    assert all(c[0].size <= 3000 for c in chunks) and len(chunks) >= times.size // 3000
    want_t, want_i = expected(times, ids, 100.0, 4000.0)
    got = np.concatenate([c[0] for c in chunks])
    assert got.size == want_t.size and np.all((got >= 100.0) & (got < 4000.0))
    np.testing.assert_array_equal(s.times_ms, want_t)
    np.testing.assert_array_equal(s.node_ids, want_i)


def test_run_group(tmp_path, two_pops, capsys):
    path = write_spike_file(tmp_path / "s.h5", two_pops, duration_ms=1000.0, dt_ms=0.1)
    run = aio.read_run(path)
    assert run.populations == {"exc": 80, "inh": 20}
    assert run.attrs["seed"] == 1234 and run.attrs["experiment"] == "test"
    assert run.attrs["config_toml"].startswith("[run]") and run.complete is True
    assert run.simulated_ms == 1000.0
    assert capsys.readouterr().err == ""


def test_incomplete_run_warns_on_stderr_and_uses_steps_done(tmp_path, two_pops, capsys):
    path = write_spike_file(tmp_path / "s.h5", two_pops, duration_ms=1000.0, dt_ms=0.1,
                            complete=0, steps_done=6000)
    with aio.SpikeFile(path) as f:
        assert f.run.complete is False
        assert f.window(None, None) == (0.0, 600.0)  # 6000 steps of 0.1 ms
    err = capsys.readouterr().err
    assert "WARNING" in err and "s.h5" in err and "complete = 0" in err


def test_silent_neurons_and_silent_population_count(tmp_path):
    # Population "quiet" is declared in /run but never fired: no group at all.
    times = np.array([1.0, 2.0, 3.0])
    ids = np.array([0, 0, 2], dtype=np.uint64)
    path = write_spike_file(tmp_path / "s.h5", {"exc": (times, ids, 10)},
                            run_populations={"exc": 10, "quiet": 5})
    with aio.SpikeFile(path) as f:
        assert f.populations == ["exc", "quiet"]
        assert f.size("exc") == 10 and f.size("quiet") == 5
        q = f.read("quiet")
        assert q.n_spikes == 0 and q.n_neurons == 5


def test_file_without_run_infers_sizes_and_window(tmp_path):
    times = np.array([5.0, 1.0, 9.5])
    ids = np.array([3, 7, 1], dtype=np.uint64)
    path = write_spike_file(tmp_path / "s.h5", {"a": (times, ids, None)}, run=False,
                            sorting="none", magic=None)
    with aio.SpikeFile(path) as f:
        assert f.size("a") == 8  # largest id + 1
        t0, t1 = f.window(None, None)
        assert t0 == 0.0 and t1 > 9.5 and t1 == np.nextafter(9.5, np.inf)
        np.testing.assert_array_equal(f.read("a").times_ms, [1.0, 5.0, 9.5])


def test_trials_and_traces(tmp_path, two_pops):
    trials = {"start_ms": np.array([0.0, 300.0, 600.0]),
              "cue": np.array([0, 1, 0], dtype=np.int32),
              "outcome": np.array([1, 0, 1], dtype=np.int32),
              "latency_ms": np.array([200.0, np.nan, 400.0]),
              "occurred": np.array([1, 0, 1], dtype=np.uint8)}
    t = np.arange(50) * 0.5
    v = np.stack([np.sin(t / (k + 1)) for k in range(3)], axis=1)
    traces = {"exc": {"node_ids": np.array([4, 9, 11], dtype=np.uint64), "time_ms": t,
                      "v_mV": v, "u": v * 0.2, "input": v * 0.0 + 1.0}}
    path = write_spike_file(tmp_path / "s.h5", two_pops, trials=trials, traces=traces)
    got = aio.read_trials(path)
    assert set(got) == set(trials)
    for k in trials:
        np.testing.assert_array_equal(got[k], trials[k])
    tr = aio.read_traces(path)
    assert tr.population == "exc"
    np.testing.assert_array_equal(tr.node_ids, [4, 9, 11])
    np.testing.assert_array_equal(tr.variables["v_mV"], v)
    np.testing.assert_array_equal(tr.variables["u"], v * 0.2)


def sweep_rows():
    rows = []
    for p, (theta, gain, seed) in enumerate([(0.1, 1, 1), (0.2, 1, 1), (0.1, 2, 1),
                                             (0.2, 2, 2), (0.2, 2, 3)]):
        rows.append({"point": p, "status": "failed" if p == 1 else "done", "seed": seed,
                     "folder": f"point_{p:03d}", "param.theta": theta, "param.gain": gain,
                     "metric.rate_hz": math.nan if p == 1 else 1.5 * p + theta})
    return rows


@pytest.mark.parametrize("which", ["h5", "csv"])
def test_sweep_index(tmp_path, which):
    rows = sweep_rows()
    write_sweep(tmp_path / "sw", rows, h5=which == "h5", csv_file=which == "csv")
    idx = aio.read_sweep_index(tmp_path / "sw")
    assert idx.n_points == 5
    # index.h5 alone lists columns alphabetically (HDF5 order); index.csv keeps its header.
    assert sorted(idx.params) == ["param.gain", "param.theta"]
    assert idx.metrics == ["metric.rate_hz"]
    np.testing.assert_array_equal(idx.column("theta"), [r["param.theta"] for r in rows])
    np.testing.assert_array_equal(idx.done(), [True, False, True, True, True])
    assert [str(s) for s in idx.columns["folder"]] == [r["folder"] for r in rows]
    assert idx.spike_file(3).endswith("point_003/spikes.h5")
    m = idx.column("metric.rate_hz")
    assert np.isnan(m[1]) and m[4] == pytest.approx(6.2)


def test_to_neo(tmp_path, two_pops):
    neo = pytest.importorskip("neo")
    path = write_spike_file(tmp_path / "s.h5", two_pops)
    s = aio.read_spikes(path, "inh", 100.0, 700.0)["inh"]
    trains = aio.to_neo(s)
    assert len(trains) == 20
    times, ids, _ = two_pops["inh"]
    for i, train in enumerate(trains):
        assert isinstance(train, neo.SpikeTrain)
        want = np.sort(times[(ids == i) & (times >= 100.0) & (times < 700.0)])
        np.testing.assert_array_equal(train.rescale("ms").magnitude, want)
        assert float(train.t_start.rescale("ms")) == 100.0
        assert float(train.t_stop.rescale("ms")) == 700.0
        assert train.annotations["node_id"] == i and train.annotations["population"] == "inh"


def test_export_csv_and_npz_round_trip(tmp_path, two_pops):
    path = write_spike_file(tmp_path / "s.h5", two_pops, sorting="by_id")
    with aio.SpikeFile(path) as f:
        n_csv = aio.export_csv(f, tmp_path / "s.csv", None, 200.0, 800.0)
        n_npz = aio.export_npz(f, tmp_path / "s.npz", ["inh", "exc"], 200.0, 800.0)
    with open(tmp_path / "s.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["population", "node_id", "time_ms"]
    z = np.load(tmp_path / "s.npz")
    assert list(z["population_names"]) == ["inh", "exc"]
    np.testing.assert_array_equal(z["population_sizes"], [20, 80])
    assert float(z["t_start_ms"]) == 200.0 and float(z["t_stop_ms"]) == 800.0
    total = 0
    for k, pop in enumerate(["inh", "exc"]):
        times, ids, _ = two_pops[pop]
        want_t, want_i = expected(times, ids, 200.0, 800.0)
        total += want_t.size
        got = [(int(r[1]), float(r[2])) for r in rows[1:] if r[0] == pop]
        assert got == list(zip(want_i.tolist(), want_t.tolist()))  # exact: repr round-trips
        sel = z["population"] == k
        np.testing.assert_array_equal(z["times_ms"][sel], want_t)
        np.testing.assert_array_equal(z["node_ids"][sel], want_i)
    assert n_csv == n_npz == total == len(rows) - 1


def test_order_helper_is_consistent():
    # Guards the fixture writer itself: by_time ordering breaks ties by id.
    t, i = order_spikes([2.0, 1.0, 1.0], [0, 5, 3], "by_time")
    np.testing.assert_array_equal(t, [1.0, 1.0, 2.0])
    np.testing.assert_array_equal(i, [3, 5, 0])
