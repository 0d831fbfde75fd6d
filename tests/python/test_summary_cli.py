"""The streamed summary against loops over the spikes, and every subcommand end to end
(in process, through analysis.cli.main, as ``python3 -m analysis`` runs it)."""

import json
import os

import numpy as np
import pytest

from analysis.cli import main
from analysis.io import SpikeFile
from analysis.stats import summarize
from sonata_files import poisson_spikes, write_spike_file, write_sweep


def reference_summary(times, ids, n, t0, t1, fano_bin_ms, min_spikes):
    """Per-neuron loops and np.histogram, independent of the streaming accumulator."""
    m = (times >= t0) & (times < t1)
    times, ids = times[m], ids[m].astype(int)
    per = {}
    for t, i in zip(times.tolist(), ids.tolist()):
        per.setdefault(i, []).append(t)
    counts = np.array([len(per.get(i, [])) for i in range(n)])
    rates = counts / ((t1 - t0) / 1000.0)
    cvs = []
    for ts in per.values():
        if len(ts) >= min_spikes:
            isi = np.diff(sorted(ts))
            cvs.append(np.std(isi) / np.mean(isi))
    edges = t0 + fano_bin_ms * np.arange(int((t1 - t0) // fano_bin_ms) + 1)
    pc = np.histogram(times, edges)[0]
    return {"n_neurons": n, "n_spikes": int(m.sum()), "mean_rate_hz": rates.mean(),
            "std_rate_hz": rates.std(), "silent_fraction": np.mean(counts == 0),
            "cv_isi_mean": np.mean(cvs), "cv_isi_median": np.median(cvs),
            "n_neurons_with_cv": len(cvs), "fano_factor": pc.var() / pc.mean()}


@pytest.fixture(scope="module")
def pops():
    rng = np.random.default_rng(21)
    exc = poisson_spikes(rng, 120, 8.0, 3000.0)
    inh = poisson_spikes(rng, 30, 25.0, 3000.0)
    # Neurons 0-9 of exc stay silent: their spikes are removed.
    keep = exc[1] >= 10
    return {"exc": (exc[0][keep], exc[1][keep], 120), "inh": (*inh, 30)}


@pytest.mark.parametrize("sorting", ["by_time", "by_id"])
def test_streamed_summary_matches_loops(tmp_path, pops, sorting):
    path = write_spike_file(tmp_path / "s.h5", pops, sorting=sorting, duration_ms=3000.0,
                            chunk=97)
    with SpikeFile(path) as f:
        # Chunks of 97 spikes: most neurons' ISIs straddle chunk boundaries.
        got = summarize(f, None, 250.0, 2750.0, fano_bin_ms=5.0, min_spikes=4, chunk_size=97)
    for pop, (times, ids, n) in pops.items():
        want = reference_summary(times, ids, n, 250.0, 2750.0, 5.0, 4)
        for key, value in want.items():
            assert got["populations"][pop][key] == pytest.approx(value, rel=1e-10), (pop, key)
    assert got["populations"]["exc"]["silent_fraction"] >= 10 / 120
    assert got["n_spikes"] == sum(got["populations"][p]["n_spikes"] for p in pops)


def test_summary_command_prints_and_writes_json(tmp_path, pops, capsys):
    write_spike_file(tmp_path / "spikes.h5", pops, duration_ms=3000.0)
    out = tmp_path / "summary.json"
    assert main(["summary", os.fspath(tmp_path), "--json", os.fspath(out)]) == 0
    text = capsys.readouterr().out
    data = json.loads(out.read_text())
    assert data["t_start_ms"] == 0.0 and data["t_stop_ms"] == 3000.0
    assert data["run"]["seed"] == 1234 and data["run"]["complete"] == 1
    for pop, (times, ids, n) in pops.items():
        want = reference_summary(times, ids, n, 0.0, 3000.0, 10.0, 3)
        assert data["populations"][pop]["n_spikes"] == want["n_spikes"]
        assert data["populations"][pop]["mean_rate_hz"] == pytest.approx(want["mean_rate_hz"])
        assert data["populations"][pop]["fano_factor"] == pytest.approx(want["fano_factor"])
        assert pop in text and str(want["n_spikes"]) in text


def test_every_subcommand_writes_its_figure(tmp_path, pops, capsys):
    trials = {"start_ms": np.array([100.0, 900.0, 1700.0, 2500.0]),
              "cue": np.array([0, 1, 0, 1], np.int32),
              "cue_ms": np.array([150.0, 950.0, 1750.0, 2550.0]),
              "occurred": np.array([1, 1, 0, 1], np.uint8)}
    t = np.arange(100) * 1.0
    traces = {"exc": {"node_ids": np.array([0, 1, 2], np.uint64), "time_ms": t,
                      "v_mV": np.tile(-65 + np.sin(t)[:, None], (1, 3))}}
    path = write_spike_file(tmp_path / "spikes.h5", pops, duration_ms=3000.0, trials=trials,
                            traces=traces)
    sweep = tmp_path / "sweep"
    write_sweep(sweep, [{"point": k, "status": "done", "seed": k, "folder": f"p{k}",
                         "param.theta": 0.1 * k, "metric.rate_hz": 2.0 * k}
                        for k in range(4)])
    runs = [
        (["raster", path, "--max-neurons", "60", "--marker-size", "3", "--t-start", "500",
          "--t-stop", "1500", "-p", "exc,inh"], "png"),
        (["rate", path, "--bin-ms", "2", "--smooth-ms", "3"], "pdf"),
        (["rate", path, "--no-spectrum", "-p", "inh"], "svg"),
        (["rate-hist", path, "--bins", "10"], "png"),
        (["isi", path, "--min-spikes", "5"], "png"),
        (["psth", path, "--align", "cue_ms", "--group-by", "cue", "--where", "occurred=1",
          "--pre-ms", "50", "--post-ms", "300"], "png"),
        (["traces", path, "--neurons", "1", "2"], "png"),
        (["sweep", os.fspath(sweep), "--metric", "rate_hz", "--x", "theta"], "png"),
    ]
    for k, (argv, ext) in enumerate(runs):
        out = tmp_path / f"fig{k}.{ext}"
        assert main(argv + ["-o", os.fspath(out)]) == 0, argv
        assert out.stat().st_size > 1000, argv
        assert f"wrote {out}" in capsys.readouterr().out
    # PSTH over the 3 trials with occurred = 1, grouped by cue.
    assert main(["psth", path, "--align", "cue_ms", "--where", "occurred=1", "-o",
                 os.fspath(tmp_path / "p.png")]) == 0
    assert "psth: 3 events" in capsys.readouterr().out


def test_default_output_name(tmp_path, pops, monkeypatch, capsys):
    run = tmp_path / "run42"
    run.mkdir()
    write_spike_file(run / "spikes.h5", pops, duration_ms=3000.0)
    monkeypatch.chdir(tmp_path)
    assert main(["raster", os.fspath(run)]) == 0
    assert (tmp_path / "run42_raster.png").stat().st_size > 1000


def test_export_command(tmp_path, pops, capsys):
    path = write_spike_file(tmp_path / "s.h5", pops, duration_ms=3000.0)
    assert main(["export", path, "-o", os.fspath(tmp_path / "s.npz"), "-p", "inh",
                 "--t-stop", "1000"]) == 0
    z = np.load(tmp_path / "s.npz")
    times, ids, _ = pops["inh"]
    assert z["times_ms"].size == int(np.sum(times < 1000.0))
    assert f"wrote {z['times_ms'].size} spikes" in capsys.readouterr().out


@pytest.mark.parametrize("sorting", ["by_time", "none"])
def test_streamed_counts_feed_the_rate_figures(tmp_path, pops, sorting):
    from analysis import plots, stats
    path = write_spike_file(tmp_path / "s.h5", pops, sorting=sorting, duration_ms=3000.0,
                            chunk=64)
    with SpikeFile(path) as f:
        c = stats.count_spikes_streamed(f, "exc", 100.0, 2900.0, bin_ms=4.0, chunk_size=64)
    times, ids, n = pops["exc"]
    m = (times >= 100.0) & (times < 2900.0)
    edges = np.arange(100.0, 2900.0 + 1e-9, 4.0)
    np.testing.assert_array_equal(c.edges_ms, edges)
    np.testing.assert_array_equal(c.bin_counts, np.histogram(times[m], edges)[0])
    np.testing.assert_array_equal(c.neuron_counts, [np.sum(ids[m] == i) for i in range(n)])
    _, data = plots.plot_rate({"exc": c}, bin_ms=4.0)
    np.testing.assert_allclose(data["exc"]["rate_hz"],
                               np.histogram(times[m], edges)[0] / (n * 4e-3), rtol=1e-12)
    _, hist = plots.plot_rate_histogram({"exc": c})
    np.testing.assert_allclose(hist["exc"]["rates_hz"], c.neuron_counts / 2.8, rtol=1e-12)


def test_every_subcommand_has_help(capsys):
    from analysis.cli import COMMANDS
    for name in COMMANDS:
        with pytest.raises(SystemExit) as info:
            main([name, "--help"])
        assert info.value.code == 0
        assert f"analysis {name}" in capsys.readouterr().out
