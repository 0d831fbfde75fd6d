"""The streamed ISI/CV, PSTH and .npz export give exactly the numbers of the in-memory
paths (which test_plots.py and test_io.py check against independent loops), with
chunks small enough that every neuron's intervals and every event window cross chunk
boundaries many times."""

from __future__ import annotations

import numpy as np
import pytest

from analysis import io as aio
from analysis import plots, stats
from sonata_files import poisson_spikes, write_spike_file

CHUNK = 48  # a multiple of the datasets' HDF5 chunk (16), far below the spike counts


@pytest.fixture(params=["by_time", "by_id"])
def spike_path(request, tmp_path):
    rng = np.random.default_rng(77)
    pops = {"exc": (*poisson_spikes(rng, 60, 18.0, 2000.0), 60),
            "inh": (*poisson_spikes(rng, 15, 45.0, 2000.0), 15)}
    return write_spike_file(tmp_path / "s.h5", pops, sorting=request.param,
                            duration_ms=2000.0, chunk=16)


@pytest.mark.parametrize("isi_max_ms", [None, 120.0])
@pytest.mark.parametrize("window", [(None, None), (300.0, 1700.0)])
def test_isi_cv_streamed_equals_in_memory(spike_path, isi_max_ms, window):
    with aio.SpikeFile(spike_path) as f:
        spikes = f.read_all(None, *window)
        assert all(s.n_spikes > 5 * CHUNK for s in spikes.values())
        want = plots.isi_cv_data(spikes, 40, isi_max_ms, 25, 4)
        got = stats.isi_cv_streamed(f, None, *window, isi_bins=40, isi_max_ms=isi_max_ms,
                                    cv_bins=25, min_spikes=4, chunk_size=CHUNK)
    assert got.keys() == want.keys() == {"exc", "inh"}
    for pop in want:
        np.testing.assert_array_equal(got[pop]["isi_edges_ms"], want[pop]["isi_edges_ms"])
        np.testing.assert_array_equal(got[pop]["isi_counts"], want[pop]["isi_counts"])
        assert got[pop]["isi_counts"].sum() > 0
        # CVs: two-pass moments in memory, Chan's merge when streamed: equal to rounding.
        np.testing.assert_allclose(got[pop]["cv"], want[pop]["cv"], rtol=1e-12,
                                   equal_nan=True)
        np.testing.assert_allclose(got[pop]["cv_edges"], want[pop]["cv_edges"], rtol=1e-12)
        np.testing.assert_array_equal(got[pop]["cv_counts"], want[pop]["cv_counts"])


def test_psth_streamed_equals_in_memory(spike_path):
    events = np.array([150.5, 400.0, 410.0, 980.25, 1500.0, 1890.0, np.nan])
    cue = np.array([0, 1, 0, 1, 0, 1, 0])
    pre, post, bin_ms = 120.0, 300.0, 15.0
    finite = np.isfinite(events)
    t0, t1 = events[finite].min() - pre, events[finite].max() + post
    by_group = {g: events[cue == g] for g in (0, 1)}
    with aio.SpikeFile(spike_path) as f:
        for pop in ("exc", "inh"):
            got = stats.psth_streamed(f, pop, by_group, pre, post, bin_ms, chunk_size=CHUNK)
            spikes = f.read(pop, t0, t1)
            for g, evs in by_group.items():
                want = stats.psth(spikes, evs, pre, post, bin_ms)
                np.testing.assert_array_equal(got[g].counts, want.counts)
                np.testing.assert_array_equal(got[g].edges_ms, want.edges_ms)
                np.testing.assert_array_equal(got[g].rate_hz, want.rate_hz)
                assert got[g].n_events == want.n_events and got[g].n_neurons == want.n_neurons
                assert got[g].counts.sum() > 0


@pytest.mark.parametrize("window", [(None, None), (250.0, 1250.0)])
def test_npz_export_streamed_equals_in_memory(spike_path, tmp_path, window):
    with aio.SpikeFile(spike_path) as f:
        n = aio.export_npz(f, tmp_path / "out.npz", ["inh", "exc"], *window, chunk_size=CHUNK)
        spikes = [f.read(p, *window) for p in ("inh", "exc")]
        t0, t1 = f.window(*window)
    z = np.load(tmp_path / "out.npz")
    assert sorted(z.files) == sorted(["times_ms", "node_ids", "population", "population_names",
                                      "population_sizes", "t_start_ms", "t_stop_ms"])
    want_t = np.concatenate([s.times_ms for s in spikes])
    assert n == want_t.size > 10 * CHUNK
    np.testing.assert_array_equal(z["times_ms"], want_t)
    np.testing.assert_array_equal(z["node_ids"], np.concatenate([s.node_ids for s in spikes]))
    np.testing.assert_array_equal(z["population"], np.concatenate(
        [np.full(s.n_spikes, k, np.int32) for k, s in enumerate(spikes)]))
    assert z["times_ms"].dtype == np.float64 and z["node_ids"].dtype == np.int64
    assert z["population"].dtype == np.int32
    assert z["population_names"].tolist() == ["inh", "exc"]
    assert z["population_sizes"].tolist() == [15, 60]
    assert float(z["t_start_ms"]) == t0 and float(z["t_stop_ms"]) == t1
