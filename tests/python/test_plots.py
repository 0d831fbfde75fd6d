"""The numbers behind every figure, each checked against a computation written
independently in the test (loops over spikes, np.histogram, a hand-written Welch
estimator), and the figure files themselves."""

import math

import numpy as np
import pytest

from analysis import plots, stats
from analysis.io import Spikes, read_sweep_index, read_traces
from sonata_files import poisson_spikes, write_spike_file, write_sweep


def make_spikes(pop, times, ids, n, t0, t1):
    times, ids = np.asarray(times, np.float64), np.asarray(ids, np.int64)
    m = (times >= t0) & (times < t1)
    o = np.lexsort((ids[m], times[m]))
    return Spikes(pop, times[m][o], ids[m][o], n, t0, t1)


@pytest.fixture(scope="module")
def network():
    rng = np.random.default_rng(11)
    exc = poisson_spikes(rng, 160, 12.0, 2000.0)
    inh = poisson_spikes(rng, 40, 30.0, 2000.0)
    return {"exc": make_spikes("exc", *exc, 160, 0.0, 2000.0),
            "inh": make_spikes("inh", *inh, 40, 0.0, 2000.0)}


def check_figure(fig, tmp_path, name):
    for ext, magic in (("png", b"\x89PNG"), ("pdf", b"%PDF"), ("svg", b"<svg")):
        out = plots.save_figure(fig, tmp_path / f"{name}.{ext}")
        data = open(out, "rb").read()
        assert len(data) > 1000 and magic in data[:400]


def test_raster_subsamples_evenly_and_maps_rows(network, tmp_path):
    fig, data = plots.plot_raster(network, max_neurons=50)
    # 50 of 200 neurons: 160 * 50 // 200 = 40 exc and 40 * 50 // 200 = 10 inh shown.
    assert data["exc"]["node_ids"].size == 40 and data["inh"]["node_ids"].size == 10
    assert data["inh"]["row_offset"] == 40
    for pop, s in network.items():
        shown = sorted(set(data[pop]["node_ids"].tolist()))
        step = s.n_neurons / len(shown)
        # Evenly spread: consecutive shown ids differ by n/k rounded down or up.
        assert all(math.floor(step) <= b - a <= math.ceil(step) for a, b in zip(shown, shown[1:]))
        want_t, want_rows = [], []
        for t, i in zip(s.times_ms.tolist(), s.node_ids.tolist()):
            if i in shown:
                want_t.append(t)
                want_rows.append(data[pop]["row_offset"] + shown.index(i))
        np.testing.assert_array_equal(data[pop]["times_ms"], want_t)
        np.testing.assert_array_equal(data[pop]["rows"], want_rows)
    check_figure(fig, tmp_path, "raster")


def test_raster_shows_everything_for_small_networks(network):
    _, data = plots.plot_raster(network, max_neurons=1000)
    assert data["exc"]["times_ms"].size == network["exc"].n_spikes
    assert data["inh"]["rows"].max() < 200 and data["inh"]["rows"].min() >= 160


def test_population_rate_matches_histogram(network, tmp_path):
    fig, data = plots.plot_rate(network, bin_ms=5.0)
    for pop, s in network.items():
        edges = np.arange(0.0, 2000.0 + 1e-9, 5.0)
        counts, _ = np.histogram(s.times_ms, edges)
        np.testing.assert_array_equal(data[pop]["edges_ms"], edges)
        np.testing.assert_allclose(data[pop]["rate_hz"], counts / (s.n_neurons * 5e-3),
                                   rtol=1e-12)
    check_figure(fig, tmp_path, "rate")


def test_partial_last_bin_is_dropped():
    s = Spikes("a", np.array([0.5, 9.5, 10.2]), np.array([0, 0, 0]), 1, 0.0, 10.5)
    edges, rate = stats.population_rate(s, bin_ms=1.0)
    assert edges[-1] == 10.0 and rate.size == 10  # [10, 10.5) is not a whole bin
    assert rate[0] == 1000.0 and rate[9] == 1000.0 and rate.sum() == 2000.0


def welch_reference(x, fs, nperseg):
    """Welch's method written out: periodic Hann window, 50 % overlap, mean removed per
    segment, one-sided density scaling (Welch 1967; Press et al., Numerical Recipes 13.4)."""
    n = np.arange(nperseg)
    w = 0.5 - 0.5 * np.cos(2 * np.pi * n / nperseg)
    step = nperseg - nperseg // 2
    segments = [x[k:k + nperseg] for k in range(0, x.size - nperseg + 1, step)]
    p = np.zeros(nperseg // 2 + 1)
    for seg in segments:
        p += np.abs(np.fft.rfft((seg - seg.mean()) * w)) ** 2
    p /= len(segments) * fs * np.sum(w ** 2)
    p[1:-1 if nperseg % 2 == 0 else None] *= 2
    return np.fft.rfftfreq(nperseg, 1 / fs), p


def modulated_population(rng, n, duration_ms, dt_ms=1.0):
    """Inhomogeneous Poisson neurons sharing r(t) = 10 Hz (1 + 0.6 sin 2π·10t +
    0.6 sin 2π·40t): alpha (10 Hz) and gamma (40 Hz) rhythms by construction."""
    t = np.arange(0.0, duration_ms, dt_ms)
    s = t / 1000.0
    r = 10.0 * (1 + 0.6 * np.sin(2 * np.pi * 10 * s) + 0.6 * np.sin(2 * np.pi * 40 * s))
    fired = rng.random((t.size, n)) < np.clip(r, 0, None)[:, None] * dt_ms * 1e-3
    steps, ids = np.nonzero(fired)
    return t[steps], ids


def test_spectrum_matches_reference_welch_and_finds_alpha_and_gamma(tmp_path):
    rng = np.random.default_rng(5)
    times, ids = modulated_population(rng, 400, 4000.0)
    spikes = {"exc": make_spikes("exc", times, ids, 400, 0.0, 4000.0)}
    fig, data = plots.plot_rate(spikes, bin_ms=1.0, segment_ms=1000.0)
    d = data["exc"]
    freqs, psd = welch_reference(d["rate_hz"], 1000.0, 1000)
    np.testing.assert_allclose(d["freqs_hz"], freqs)
    np.testing.assert_allclose(d["psd"], psd, rtol=1e-9, atol=1e-12 * psd.max())
    assert d["peaks"]["alpha"][0] == 10.0 and d["peaks"]["gamma"][0] == 40.0
    # The rhythms stand far above the Poisson floor (a flat 2·rate/N density).
    floor = np.median(psd[(freqs > 100) & (freqs < 400)])
    assert d["peaks"]["alpha"][1] > 50 * floor and d["peaks"]["gamma"][1] > 50 * floor
    check_figure(fig, tmp_path, "spectrum")


def test_rate_histogram_counts_every_neuron(network, tmp_path):
    fig, data = plots.plot_rate_histogram(network, bins=12)
    top = 0.0
    per_pop = {}
    for pop, s in network.items():
        counts = [0] * s.n_neurons
        for i in s.node_ids.tolist():
            counts[i] += 1
        per_pop[pop] = np.array(counts) / 2.0  # 2 s window
        top = max(top, per_pop[pop].max())
    edges = np.linspace(0.0, top, 13)
    for pop in network:
        np.testing.assert_allclose(data[pop]["rates_hz"], per_pop[pop], rtol=1e-12)
        np.testing.assert_array_equal(data[pop]["counts"], np.histogram(per_pop[pop], edges)[0])
        assert data[pop]["counts"].sum() == network[pop].n_neurons  # silent ones included
    check_figure(fig, tmp_path, "rate_hist")


def per_neuron_isis(s):
    out = {}
    for t, i in zip(s.times_ms.tolist(), s.node_ids.tolist()):
        out.setdefault(i, []).append(t)
    return {i: np.diff(sorted(ts)) for i, ts in out.items()}


def test_isi_and_cv(network, tmp_path):
    fig, data = plots.plot_isi_cv(network, isi_bins=40, cv_bins=20, min_spikes=5)
    for pop, s in network.items():
        isis = per_neuron_isis(s)
        all_isis = np.concatenate(list(isis.values()))
        np.testing.assert_allclose(np.sort(data[pop]["isis_ms"]), np.sort(all_isis))
        cv = np.full(s.n_neurons, np.nan)
        for i, x in isis.items():
            if x.size + 1 >= 5:
                cv[i] = np.std(x) / np.mean(x)
        np.testing.assert_allclose(data[pop]["cv"], cv, rtol=1e-12, equal_nan=True)
        np.testing.assert_array_equal(
            data[pop]["isi_counts"], np.histogram(all_isis, data[pop]["isi_edges_ms"])[0])
        np.testing.assert_array_equal(
            data[pop]["cv_counts"], np.histogram(cv[np.isfinite(cv)], data[pop]["cv_edges"])[0])
        # Poisson trains: CV near 1 (dt-grid Bernoulli trains, 12-30 Hz, 2 s).
        assert 0.85 < np.nanmean(cv) < 1.1
    check_figure(fig, tmp_path, "isi")


def test_fano_factor():
    rng = np.random.default_rng(8)
    times, _ = poisson_spikes(rng, 500, 10.0, 10000.0)
    edges = np.arange(0.0, 10000.0 + 1e-9, 10.0)
    counts = np.histogram(times, edges)[0]
    f = stats.fano_factor(times, 0.0, 10000.0, 10.0)
    assert f == pytest.approx(counts.var() / counts.mean(), rel=1e-12)
    assert 0.85 < f < 1.15  # independent Poisson neurons: F = 1 (sd of the estimate ~0.015)
    # All 500 neurons firing together every 50 ms: counts 500 or 0, F = 500 * (1 - 1/5).
    sync = np.repeat(np.arange(5.0, 10000.0, 50.0), 500)
    assert stats.fano_factor(sync, 0.0, 10000.0, 10.0) == pytest.approx(400.0)


def test_psth_matches_loop_over_events(tmp_path):
    rng = np.random.default_rng(9)
    times, ids = poisson_spikes(rng, 30, 20.0, 3000.0)
    events = np.array([200.03, 700.03, 1200.03, 1700.03, 2200.03, np.nan])
    cue = np.array([0, 1, 0, 1, 0, 1])
    s = {"exc": make_spikes("exc", times, ids, 30, 0.0, 3000.0)}
    fig, data = plots.plot_psth(s, events, cue, "cue", "start_ms", pre_ms=100.0,
                                post_ms=400.0, bin_ms=20.0)
    for g in (0, 1):
        h = data["exc"][g]
        want = np.zeros(25, int)
        used = [e for e, c in zip(events, cue) if c == g and np.isfinite(e)]
        for e in used:
            for t in times:
                rel = t - e
                if -100.0 <= rel < 400.0:
                    want[int((rel + 100.0) // 20.0)] += 1
        assert h.n_events == len(used)
        np.testing.assert_array_equal(h.counts, want)
        np.testing.assert_allclose(h.rate_hz, want / (len(used) * 30 * 0.02))
        np.testing.assert_allclose(h.edges_ms, np.arange(-100.0, 400.0 + 1e-9, 20.0))
    check_figure(fig, tmp_path, "psth")


def test_traces(tmp_path):
    t = np.arange(200) * 0.5
    v = np.stack([-65 + 10 * np.sin(t / (k + 3)) for k in range(4)], axis=1)
    path = write_spike_file(tmp_path / "s.h5", {"exc": (np.array([1.0]), np.array([0]), 10)},
                            traces={"exc": {"node_ids": np.array([2, 5, 7, 9], np.uint64),
                                            "time_ms": t, "v_mV": v, "u": v / 5}})
    traces = read_traces(path)
    fig, data = plots.plot_traces(traces, "u", neurons=[7, 2], t_start_ms=10.0, t_stop_ms=50.0)
    keep = (t >= 10.0) & (t < 50.0)
    np.testing.assert_array_equal(data["time_ms"], t[keep])
    np.testing.assert_array_equal(data["node_ids"], [7, 2])
    np.testing.assert_array_equal(data["values"], (v / 5)[keep][:, [2, 0]])
    check_figure(fig, tmp_path, "traces")


def test_sweep_means_over_repeats(tmp_path):
    rows, p = [], 0
    for theta in (0.1, 0.2, 0.3):
        for gain in (1, 2):
            for seed in (1, 2, 3):
                status = "failed" if (theta, gain, seed) == (0.3, 2, 3) else "done"
                rows.append({"point": p, "status": status, "seed": seed,
                             "folder": f"p{p}", "param.theta": theta, "param.gain": gain,
                             "metric.acc": theta * gain + 0.01 * seed
                             if status == "done" else math.nan})
                p += 1
    write_sweep(tmp_path / "sw", rows)
    index = read_sweep_index(tmp_path / "sw")
    fig, data = plots.plot_sweep(index, "acc", "theta", by="gain")
    assert data["metric"] == "metric.acc" and data["x"] == "param.theta"
    assert set(data["series"]) == {1, 2}
    for gain, series in data["series"].items():
        np.testing.assert_allclose(series["x"], [0.1, 0.2, 0.3])
        for k, theta in enumerate((0.1, 0.2, 0.3)):
            vals = [r["metric.acc"] for r in rows if r["param.gain"] == gain
                    and r["param.theta"] == theta and r["status"] == "done"]
            assert series["n"][k] == len(vals)
            assert series["mean"][k] == pytest.approx(sum(vals) / len(vals))
            assert series["std"][k] == pytest.approx(np.std(vals))
    assert data["series"][2]["n"].tolist() == [3, 3, 2]  # the failed point is left out
    check_figure(fig, tmp_path, "sweep")
