"""End to end: the small what/when config (experiments/what_when_small.toml, fixed seed 7)
run by the snnsim binary. Checks the result layout and the acceptance figures this small
version reaches with margin; the thresholds are the acceptance targets of the what/when
issue (or, where marked, a looser sanity range), not values taken from a run. Figures the
small version does not reach robustly (the timing band, the probability slope, the clock
at 600/1000 ms, FORCE with reset within 2x, the angle) are reported by the full config
and not claimed here."""

import os
import subprocess

import h5py
import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    binary = os.environ.get("SNNSIM_BIN")
    if not binary:
        pytest.fail("SNNSIM_BIN is not set (scripts/test.sh sets it to build/snnsim)")
    out = tmp_path_factory.mktemp("ww") / "run"
    config = os.path.join(ROOT, "experiments", "what_when_small.toml")
    proc = subprocess.run([binary, "run", config, "--out", str(out)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    with h5py.File(out / "spikes.h5", "r") as f:
        data = {
            "metrics": {k: float(v) for k, v in f["metrics"].attrs.items()},
            "trials": {k: f["trials"][k][()] for k in f["trials"]},
            "readouts": {k: f["readouts"][k].shape for k in f["readouts"]},
            "weights": {b: sorted(f["weights"][b]) for b in f["weights"]},
            "complete": int(f["run"].attrs["complete"]),
        }
    data["stdout"] = proc.stdout + proc.stderr
    data["path"] = str(out)
    return data


def test_layout(result):
    trials = result["trials"]
    n = len(trials["start_ms"])
    # 5 conditions x (60 + 50) trials per condition in the config.
    assert n == 5 * (60 + 50)
    for k in ("cue", "outcome", "latency_ms", "occurred", "block", "err_when"):
        assert len(trials[k]) == n
    assert np.all(np.diff(trials["start_ms"]) > 900)  # trial_ms = 900 plus the interval
    t = result["readouts"]["t_ms"][0]
    for k in ("when", "what_X", "what_Y", "force_noreset", "force_reset"):
        assert result["readouts"][k] == (n, t)
    assert set(result["weights"]) == {"pre", "post"}
    assert "when_A" in result["weights"]["post"] and "what_X" in result["weights"]["post"]
    assert result["complete"] == 1
    assert "metric clock_mae_200ms" in result["stdout"]
    # Where timing and probability are scored is stated in /metrics: the outcome does not
    # drive the reservoir (outcome_input = false), so every trial is scored.
    assert result["metrics"]["outcome_input"] == 0
    assert result["metrics"]["scored_on_omission_trials_only"] == 0
    # /stimuli: which exc cells each cue drives, 20 % of the 320 each (cue_fraction), disjoint.
    with h5py.File(os.path.join(result["path"], "spikes.h5"), "r") as f:
        g = f["stimuli"]
        assert g.attrs["population"] == "exc" and g.attrs["form"] == "current"
        cues = {k: g["cues"][k][()] for k in g["cues"]}
        assert sorted(g["outcomes"]) == ["X", "Y"]
    assert sorted(cues) == ["A", "B", "C", "D", "E"]
    assert all(len(v) == 64 and len(set(v)) == 64 and v.min() >= 0 and v.max() < 320
               for v in cues.values())
    assert len(set(np.concatenate(list(cues.values())))) == 5 * 64


def test_clock(result):
    m = result["metrics"]
    # The acceptance bar (MAE <= 40 ms at 200 ms) is for the full 1000-neuron config, which
    # measured 26-29 ms. This 400-neuron version sits at the bar: 35.6-43.2 ms over seeds 7-10,
    # so it is held to 60 ms; an unusable clock (no time-since-cue information) gives > 100 ms.
    assert m["clock_mae_200ms"] <= 60
    assert m["clock_mae_200ms"] < m["clock_mae_600ms"]  # error grows with time since cue
    assert m["clock_cue_accuracy_800ms"] >= 0.85


def test_timing_and_probability(result):
    m = result["metrics"]
    # The acceptance band for L = 500 ms is [420, 530]. The 400-neuron reservoir has the
    # prototype's early bias (research notes: 25-85 ms at N = 1000, larger when smaller),
    # so here only a looser window is claimed: the peak comes after the cue transient, at
    # most 150 ms early and not late, and the output has risen to >= 0.9 of its peak by
    # L - 50 ms (the acceptance rise condition, met with margin).
    for cue in ("B", "A"):
        assert 350 <= m[f"timing_post_{cue}_peak_ms"] <= 530
        assert m[f"timing_post_{cue}_rise_ratio"] >= 0.9
    # p = 0.2 / 0.5 / 0.8 against p = 1, each the mean over the last 30 trials' frozen
    # weights (30 snapshots). r is the acceptance target; the slope target 0.8-1.2 sits at
    # the edge here (p = 0.2 is biased up by the rectification, as in the prototype), so
    # only a sanity range is checked.
    assert m["probability_L500_pearson_r"] >= 0.95
    assert 0.6 <= m["probability_L500_slope"] <= 1.4
    assert (m["probability_L500_p20_normalised"] < m["probability_L500_p50_normalised"]
            < m["probability_L500_p80_normalised"] < 1.0)


def test_adaptation(result):
    m = result["metrics"]
    assert m["adaptation_t90_three_factor_censored"] == 0
    assert m["adaptation_t90_three_factor"] <= 30
    # FORCE without a P reset has not recovered when the 50 post-change trials end, so its
    # t90 is a lower bound; with only 60 pre-change trials the acceptance ratio (>= 3x after
    # >= 300 trials) is not claimed, but it must be clearly slower.
    assert m["adaptation_ratio_force_noreset"] >= 2
    # FORCE with a P reset at the change recovers within the block, faster than without a
    # reset. The acceptance ratio (within 2x of the three-factor rule) is not claimed: on the
    # full config it holds for some schedule seeds only.
    assert m["adaptation_t90_force_reset_censored"] == 0
    assert m["adaptation_t90_force_reset"] < m["adaptation_t90_force_noreset"]


def test_resolved_config_reruns_to_the_same_spikes(result, tmp_path):
    """A run's config.toml holds simulation.duration_ms = the schedule's length; it is accepted
    as it is and re-runs to the same spikes and metrics. Another duration is refused (exit 2)
    at its key: the schedule sets a what/when run's length."""
    config = os.path.join(result["path"], "config.toml")
    out = tmp_path / "again"
    proc = subprocess.run([os.environ["SNNSIM_BIN"], "run", config, "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    with h5py.File(os.path.join(result["path"], "spikes.h5"), "r") as a, \
            h5py.File(out / "spikes.h5", "r") as b:
        for pop in a["spikes"]:
            for k in ("node_ids", "timestamps"):
                assert np.array_equal(a["spikes"][pop][k][()], b["spikes"][pop][k][()])
        assert dict(a["metrics"].attrs).keys() == dict(b["metrics"].attrs).keys()
        for k, v in a["metrics"].attrs.items():
            if "wall" not in k and k != "real_time_factor":
                assert v == b["metrics"].attrs[k], k
    proc = subprocess.run([os.environ["SNNSIM_BIN"], "run", config, "--out", str(tmp_path / "x"),
                           "--set", "simulation.duration_ms=1000"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "simulation.duration_ms" in proc.stderr
    assert not (tmp_path / "x" / "spikes.h5").exists()


def test_figures(result, tmp_path):
    """Every what/when subcommand draws from the run's result groups."""
    from analysis.cli import main
    run = result["path"]
    for name in ("ww-readout", "ww-probability", "ww-learning", "ww-clock", "ww-angle",
                 "ww-summary"):
        out = tmp_path / f"{name}.png"
        assert main([name, run, "-o", str(out), "--last", "30"]) == 0
        assert out.stat().st_size > 0


def test_clock_curve(result, tmp_path, capsys):
    """/clock holds the clock decoder's error against time since cue: one entry every
    clock.sample_every_ms from 0 to clock.max_ms (from the run's config), equal to the
    metrics clock_mae_200ms / _600ms at those times (the metrics are read off the curve),
    the uniform guess sample_ms * sum_c |c - j| / n_classes computed here, a decoder well
    below that guess at 200 ms, and a third of the clock trials tested. ww-clock prints the
    curve at those times; a file without /clock exits 2."""
    import tomllib
    from analysis.cli import main
    path = os.path.join(result["path"], "spikes.h5")
    with h5py.File(path, "r") as f:
        c = {k: f["clock"][k][()] for k in f["clock"]}
        attrs = dict(f["clock"].attrs)
        cfg = tomllib.loads(f["run"].attrs["config_toml"])["clock"]
    step, t_max = cfg["sample_every_ms"], cfg["max_ms"]
    grid = np.arange(0.0, t_max + step / 2, step)
    assert np.array_equal(c["t_ms"], grid)
    m = result["metrics"]
    for at in (200, 600):
        j = int(round(at / step))
        assert c["mae_ms"][j] == m[f"clock_mae_{at}ms"]
        assert c["ridge_scale"][j] == m[f"clock_ridge_scale_{at}ms"]
    classes = np.arange(grid.size)
    chance = step * np.abs(classes[None, :] - classes[:, None]).mean(axis=1)
    assert np.allclose(c["chance_mae_ms"], chance, rtol=1e-12)
    # Measured 38.8 against a guess of 254 ms (0.15); the acceptance figure, 40 ms at 200 ms,
    # is 0.16 of it.
    assert c["mae_ms"][int(round(200 / step))] < 0.25 * chance[int(round(200 / step))]
    assert attrs["test_trials"] == m["clock_test_trials"] == attrs["trials"] // 3
    capsys.readouterr()
    assert main(["ww-clock", path, "-o", str(tmp_path / "clock.png")]) == 0
    printed = capsys.readouterr().out
    assert f"200 ms: {m['clock_mae_200ms']:.1f} ms" in printed
    bad = _edited_copy(result, tmp_path, "noclock", lambda f: f.__delitem__("clock"))
    assert main(["ww-clock", bad, "-o", str(tmp_path / "bad.png")]) == 2
    assert not (tmp_path / "bad.png").exists()


def test_angle_plot_matches_the_run_metric(tmp_path, capsys):
    """By default ww-angle compares the readouts the run's own metric compares
    ([metrics] angle_cue / angle_outcome), so the figure and /metrics agree. The cue is set
    to "C", not the first cue, which is what the plot used to take."""
    from analysis.cli import main
    out = tmp_path / "run"
    config = os.path.join(ROOT, "experiments", "what_when_small.toml")
    proc = subprocess.run([os.environ["SNNSIM_BIN"], "run", config, "--out", str(out),
                           "--set", "metrics.angle_cue=C"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    with h5py.File(out / "spikes.h5", "r") as f:
        metric = float(f["metrics"].attrs["angle_what_when_deg"])
    capsys.readouterr()
    assert main(["ww-angle", str(out), "-o", str(tmp_path / "angle.png"), "--last", "30"]) == 0
    printed = capsys.readouterr().out
    # "angle 98.38 deg, null 95% ...": the C++ metric and the plot use the same final weights.
    angle = float(printed.split("angle ", 1)[1].split(" deg", 1)[0])
    assert abs(angle - metric) < 0.01


def _smoothed(e, change, smooth=5):
    return [np.mean(e[max(change, t + 1 - smooth):t + 1]) for t in range(change, len(e))]


def _below(e, change, threshold):
    hits = [k for k, m in enumerate(_smoothed(e, change)) if m <= threshold]
    return hits[0] if hits else None


def _recover(e, change, steady, fraction=0.9):
    """Trials until the trailing 5-trial mean since the change has lost `fraction` of its
    jump above `steady` (the issue's t90); None when never."""
    jump = _smoothed(e, change)[0] - steady
    if jump <= 0:
        return 0
    return _below(e, change, steady + (1 - fraction) * jump)


def _track(v, change, before, after, fraction=0.9):
    hits = [k for k, m in enumerate(_smoothed(v, change)) if (m - before) / (after - before) >= fraction]
    return hits[0] if hits else None


def test_probability_change_metrics_match_an_independent_computation(tmp_path):
    """The small config with cue C changed from p = 0.8 to 0.2 in the post block and FORCE on
    C: the run's adaptation metrics for C agree with t90s computed here from /trials and
    /readouts (per-trial errors; amplitude = mean frozen output within target_sigma_ms of L)."""
    out = tmp_path / "run"
    config = os.path.join(ROOT, "experiments", "what_when_small.toml")
    proc = subprocess.run([os.environ["SNNSIM_BIN"], "run", config, "--out", str(out),
                           "--set", "block.1.condition.2.probability=0.2",
                           "--set", "force.cue=C", "--set", "metrics.adaptation_cue=A"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    with h5py.File(out / "spikes.h5", "r") as f:
        m = {k: float(v) for k, v in f["metrics"].attrs.items()}
        tr = {k: f["trials"][k][()] for k in f["trials"]}
        t_ms = f["readouts"]["t_ms"][()]
        rec = {k: f["readouts"][k][()] for k in ("when", "force_noreset", "force_reset")}
    steady_trials, sigma = 10, 50.0  # [metrics] steady_trials, [readout] target_sigma_ms
    ids = np.flatnonzero(tr["cue"] == 2)
    p = tr["probability"][ids]
    change = int(np.flatnonzero(p != p[0])[0])
    assert (p[change - 1], p[change]) == (0.8, 0.2)
    prefix = "adaptation_C_p80_to_p20_"
    assert m[prefix + "pre_change_trials"] == change
    errs = {"three_factor": tr["err_when"][ids], "force_noreset": tr["err_force_noreset"][ids],
            "force_reset": tr["err_force_reset"][ids]}
    steady = min(float(np.mean(e[-steady_trials:])) for e in errs.values())
    assert m[prefix + "steady_error"] == pytest.approx(steady, rel=1e-9)
    window = np.abs(t_ms - 500.0) <= sigma
    for name, key in (("three_factor", "when"), ("force_noreset", "force_noreset"),
                      ("force_reset", "force_reset")):
        k = _recover(errs[name], change, steady)
        assert m[prefix + f"t90_{name}"] == (k if k is not None else len(ids) - change)
        amp = rec[key][ids][:, window].mean(axis=1)
        before, after = np.mean(amp[change - steady_trials:change]), np.mean(amp[-steady_trials:])
        assert m[prefix + f"amplitude_before_{name}"] == pytest.approx(before, rel=1e-9)
        assert m[prefix + f"amplitude_after_{name}"] == pytest.approx(after, rel=1e-9)
        k = _track(amp, change, before, after)
        assert m[prefix + f"amplitude_t90_{name}"] == (k if k is not None else len(ids) - change)
    # One criterion for the three learners: steady + 10 % of the largest first-trial jump.
    threshold = steady + 0.1 * max(e[change] - steady for e in errs.values())
    assert m[prefix + "common_criterion_error"] == pytest.approx(threshold, rel=1e-9)
    common = {}
    for name, e in errs.items():
        k = _below(e, change, threshold)
        common[name] = k if k is not None else len(ids) - change
        assert m[prefix + f"common_t90_{name}"] == common[name]
    if common["three_factor"] > 0:
        assert m[prefix + "common_ratio_force_reset"] == pytest.approx(
            common["force_reset"] / common["three_factor"], rel=1e-12)
    # The latency change of cue A keeps its plain names and, without FORCE on A, reports the
    # three-factor rule only.
    assert "adaptation_t90_three_factor" in m and "adaptation_t90_force_reset" not in m
    # ww-seeds --cue C names C's figures as the run does; on one run they are the run's.
    import json
    from analysis.cli import main
    js = tmp_path / "c.json"
    assert main(["ww-seeds", str(out), "--cue", "C", "-o", str(tmp_path / "c.png"),
                 "--json", str(js)]) == 0
    figures = json.loads(js.read_text())["figures"]
    names = [k for k in figures if k.startswith(prefix)]
    assert prefix + "common_t90_force_reset" in names and prefix + "heldout_t90_three_factor" in names
    for k in names:
        assert figures[k] == pytest.approx(m[k], rel=1e-9, abs=1e-12), k
    assert not any(k.startswith("adaptation_") and not k.startswith(prefix) for k in figures)
    # The probability code moves to the pre block (post changes a probability).
    assert m["probability_block"] == 0


def _run_small(tmp_path, name, *sets):
    out = tmp_path / name
    args = [os.environ["SNNSIM_BIN"], "run", os.path.join(ROOT, "experiments", "what_when_small.toml"),
            "--out", str(out)]
    for s in sets:
        args += ["--set", s]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out / "spikes.h5"


def test_spiking_readout_neurons_follow_their_readouts(result, tmp_path):
    """readout.spiking_neurons: a group of RS neurons per readout, driven by its rectified
    output. (1) They only observe: the reservoir's spikes equal the plain run's. (2) The run's
    r between a what group's spike count per sample bin and its drive equals r computed here
    from the spike file and /readouts (what outputs are constant within a trial, so the
    recorded output is the drive; bin j covers the sample_ms after sample j, the trial's last
    bin is not counted). (3) Under independence r over n bins has s.d. 1/sqrt(n): every
    group's r exceeds 4/sqrt(n), and with spiking_gain = 0 (noise only) |r| stays below it."""
    n_per = 10
    coupled = _run_small(tmp_path, "coupled", f"readout.spiking_neurons={n_per}")
    control = _run_small(tmp_path, "control", f"readout.spiking_neurons={n_per}",
                         "readout.spiking_gain=0")
    with h5py.File(os.path.join(result["path"], "spikes.h5"), "r") as plain, \
            h5py.File(coupled, "r") as f:
        for pop in plain["spikes"]:
            for key in ("timestamps", "node_ids"):
                np.testing.assert_array_equal(plain["spikes"][pop][key][()],
                                              f["spikes"][pop][key][()])
        m = {k: float(v) for k, v in f["metrics"].attrs.items()}
        dt = float(f["run"].attrs["dt_ms"])
        cues = f["trials"].attrs["cue_names"].split(",")
        outcomes = f["trials"].attrs["outcome_names"].split(",")
        start = f["trials"]["start_ms"][()]
        t_ms = f["readouts"]["t_ms"][()]
        steps = np.rint(f["spikes"]["readout"]["timestamps"][()] / dt).astype(np.int64)
        ids = f["spikes"]["readout"]["node_ids"][()]
        assert int(ids.max()) < n_per * (len(cues) + len(outcomes))
        sample = int(round((t_ms[1] - t_ms[0]) / dt))
        for o, name in enumerate(outcomes):
            drive = np.maximum(0.0, f["readouts"]["what_" + name][()][:, :-1]).ravel()
            g = len(cues) + o
            mine = steps[(ids >= g * n_per) & (ids < (g + 1) * n_per)]
            per_step = np.bincount(mine, minlength=int(steps.max()) + sample + 2)
            cum = np.concatenate([[0], np.cumsum(per_step)])
            s = (np.rint(start / dt).astype(np.int64)[:, None]
                 + np.rint(t_ms[:-1] / dt).astype(np.int64)[None, :]).ravel()
            counts = cum[s + sample + 1] - cum[s + 1]  # spikes of steps s+1 .. s+sample
            assert m["spiking_readout_bins"] == len(drive)
            r = np.corrcoef(drive, counts)[0, 1]
            assert m["spiking_readout_r_what_" + name] == pytest.approx(r, rel=1e-6)
    with h5py.File(control, "r") as f:
        m0 = {k: float(v) for k, v in f["metrics"].attrs.items()}
    bound = 4 / np.sqrt(m["spiking_readout_bins"])
    for name in [f"when_{c}" for c in cues] + [f"what_{o}" for o in outcomes]:
        assert m["spiking_readout_r_" + name] > bound, name
        assert abs(m0["spiking_readout_r_" + name]) < bound, name


def test_adaptation_is_measured_within_the_condition_after_the_change(result, tmp_path):
    """A third block in which cue A changes again (back to L = 300 ms) must not enter the
    figures of the first change: the session is the same up to the end of "post" (the
    schedule draws block by block), so every adaptation figure equals the two-block run's,
    and post_change_trials is the number of cue-A trials in "post"."""
    with open(os.path.join(ROOT, "experiments", "what_when_small.toml"), encoding="utf-8") as f:
        text = f.read()
    third = """
[[block]]
name = "back"
trials_per_condition = 30
condition = [
  { cue = "A", outcome = "X", latency_ms = 300.0, probability = 1.0 },
  { cue = "B", outcome = "Y", latency_ms = 500.0, probability = 1.0 },
]
"""
    at = text.index("[readout]")
    config = tmp_path / "three_blocks.toml"
    config.write_text(text[:at] + third.lstrip() + "\n" + text[at:], encoding="utf-8")
    out = tmp_path / "run"
    proc = subprocess.run([os.environ["SNNSIM_BIN"], "run", str(config), "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    with h5py.File(out / "spikes.h5", "r") as f:
        m = {k: float(v) for k, v in f["metrics"].attrs.items()}
        cue, block = f["trials"]["cue"][()], f["trials"]["block"][()]
    assert m["adaptation_post_change_trials"] == np.count_nonzero((cue == 0) & (block == 1))
    two = result["metrics"]
    keys = [k for k in two if k.startswith("adaptation_")]
    assert keys
    for k in keys:
        assert m[k] == pytest.approx(two[k], rel=1e-12, nan_ok=True), k


def test_scored_figure_counts_say_what_could_not_be_scored(result, tmp_path):
    """timing_scored_conditions / probability_scored_latencies are always reported. Plain
    run: one timing figure per (block, condition) with p = 1 and one probability code per
    latency with p < 1 conditions, counted here from the config (every block of the small
    config has the same latencies, so the scored block's count is that of the config). With the outcome driving
    the reservoir only omission trials are scored, and p = 1 conditions have none, so
    nothing of either can be scored: both counts are 0 (not silently missing)."""
    import tomllib
    with open(os.path.join(ROOT, "experiments", "what_when_small.toml"), "rb") as f:
        cfg = tomllib.load(f)
    conditions = [c for b in cfg["block"] for c in b["condition"]]
    m = result["metrics"]
    assert m["timing_scored_conditions"] == sum(c["probability"] == 1.0 for c in conditions)
    assert m["probability_scored_latencies"] == len(
        {c["latency_ms"] for c in conditions if 0 < c["probability"] < 1})
    spikes = _run_small(tmp_path, "outcome_input", "paradigm.outcome_input=true")
    with h5py.File(spikes, "r") as f:
        m1 = {k: float(v) for k, v in f["metrics"].attrs.items()}
    assert m1["scored_on_omission_trials_only"] == 1
    assert m1["timing_scored_conditions"] == 0
    assert m1["probability_scored_latencies"] == 0
    assert "timing_pass_fraction" not in m1


def test_seed_average_of_one_run_is_that_run(result, tmp_path, capsys):
    """ww-seeds applies the experiment's own definitions to the mean over runs: given one
    run (twice), every figure it prints equals the run's /metrics value of the same name."""
    from analysis.cli import main
    capsys.readouterr()
    js = tmp_path / "seeds.json"
    assert main(["ww-seeds", result["path"], result["path"], "-o", str(tmp_path / "s.png"),
                 "--json", str(js)]) == 0
    import json
    figures = json.loads(js.read_text())["figures"]
    m = result["metrics"]
    names = [k for k in figures if k.startswith(("adaptation_", "timing_"))]
    assert "adaptation_common_t90_force_reset" in names
    assert "adaptation_heldout_common_t90_force_reset" in names
    assert "timing_post_A_peak_ms" in names
    for k in names:
        assert figures[k] == pytest.approx(m[k], rel=1e-9, abs=1e-12), k


def test_seed_average_of_two_runs(result, tmp_path):
    """Two schedule seeds: the t90s of ww-seeds are those of the mean per-trial error curve
    (computed here from /trials), and runs whose schedules differ are refused (exit 2)."""
    from analysis.cli import main
    other = _run_small(tmp_path, "seed2", "paradigm.seed=2")
    js = tmp_path / "seeds.json"
    assert main(["ww-seeds", result["path"], str(other), "-o", str(tmp_path / "s.png"),
                 "--json", str(js)]) == 0
    import json
    figures = json.loads(js.read_text())["figures"]
    cue = 0  # A, the adaptation cue
    for tag in ("", "heldout_"):
        curves = {}
        for path in (os.path.join(result["path"], "spikes.h5"), str(other)):
            with h5py.File(path, "r") as f:
                tr = {k: f["trials"][k][()] for k in f["trials"]}
            ids = np.flatnonzero(tr["cue"] == cue)
            for name, key in (("three_factor", "when"), ("force_noreset", "force_noreset"),
                              ("force_reset", "force_reset")):
                curves.setdefault(name, []).append(tr[f"{tag}err_{key}"][ids])
            lat = tr["latency_ms"][ids]
        change = int(np.flatnonzero(lat != lat[0])[0])
        mean = {k: np.mean(v, axis=0) for k, v in curves.items()}
        if tag:  # the last snapshot scored has a full bank: the 10th trial from the end
            assert np.all(np.isnan(mean["three_factor"][-9:]))  # bank_trials = 10
            mean = {k: v[:-9] for k, v in mean.items()}
        assert not np.any(np.isnan(mean["force_reset"][change:]))
        steady = min(float(np.mean(e[-10:])) for e in mean.values())  # [metrics] steady_trials
        assert figures[f"adaptation_{tag}steady_error"] == pytest.approx(steady, rel=1e-9)
        threshold = steady + 0.1 * max(e[change] - steady for e in mean.values())
        for name, e in mean.items():
            k = _recover(e, change, steady)
            assert figures[f"adaptation_{tag}t90_{name}"] == (k if k is not None else len(e) - change)
            k = _below(e, change, threshold)
            assert figures[f"adaptation_{tag}common_t90_{name}"] == (
                k if k is not None else len(e) - change)
    # A run with another number of post-change trials does not share cue A's schedule.
    shorter = _run_small(tmp_path, "short", "block.1.trials_per_condition=40")
    proc = subprocess.run(["/usr/bin/python3", "-m", "analysis", "ww-seeds", result["path"],
                           str(shorter), "-o", str(tmp_path / "x.png")], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert str(shorter) in proc.stderr and "schedule" in proc.stderr
    assert not (tmp_path / "x.png").exists()


def _edited_copy(result, tmp_path, name, edit):
    """A copy of the small run's spike file with `edit(h5py.File)` applied."""
    import shutil
    path = tmp_path / f"{name}.h5"
    shutil.copy(os.path.join(result["path"], "spikes.h5"), path)
    with h5py.File(path, "r+") as f:
        edit(f)
    return str(path)


def _seeds(args, capsys):
    """ww-seeds in process: (exit code, stdout, stderr); argparse errors exit 2 too."""
    from analysis.cli import main
    capsys.readouterr()
    try:
        code = main(["ww-seeds", *args])
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_seed_average_refuses_runs_it_cannot_average(result, tmp_path, capsys):
    """ww-seeds refuses (exit 2, no figure) a run that did not finish, one with another readout
    time grid, one without the FORCE learners the others have on the cue, and one with missing
    errors after the change, naming that run and not the first; and runs whose steady_trials
    differ unless --steady-trials settles it."""
    run = os.path.join(result["path"], "spikes.h5")
    ids = np.flatnonzero(result["trials"]["cue"] == 0)  # cue A, the adaptation cue
    lat = result["trials"]["latency_ms"][ids]
    change = int(np.flatnonzero(lat != lat[0])[0])

    def unfinished(f):
        f["run"].attrs["complete"] = np.int8(0)

    def shifted_grid(f):
        f["readouts"]["t_ms"][...] = f["readouts"]["t_ms"][()] + 0.5

    def no_force_on_a(f):
        for key in ("err_force_noreset", "err_force_reset", "heldout_err_force_noreset",
                    "heldout_err_force_reset"):
            v = f["trials"][key][()]
            v[ids] = np.nan
            f["trials"][key][...] = v

    def hole_after_change(f):
        v = f["trials"]["err_when"][()]
        v[ids[change + 3]] = np.nan
        f["trials"]["err_when"][...] = v

    for name, edit, what in (("unfinished", unfinished, "complete = 0"),
                             ("grid", shifted_grid, "/readouts/t_ms"),
                             ("noforce", no_force_on_a, "force.cues"),
                             ("hole", hole_after_change, "missing values")):
        bad = _edited_copy(result, tmp_path, name, edit)
        png = tmp_path / f"{name}.png"
        code, _, err = _seeds([run, bad, "-o", str(png)], capsys)
        assert code == 2, name
        assert bad in err and what in err, err
        assert not png.exists()

    def other_steady(f):
        text = f["run"].attrs["config_toml"]
        text = text.decode() if isinstance(text, bytes) else str(text)
        assert "steady_trials = 10" in text
        f["run"].attrs["config_toml"] = text.replace("steady_trials = 10", "steady_trials = 12")

    bad = _edited_copy(result, tmp_path, "steady", other_steady)
    code, _, err = _seeds([run, bad, "-o", str(tmp_path / "s.png")], capsys)
    assert code == 2 and bad in err and "--steady-trials" in err
    code, _, _ = _seeds([run, bad, "--steady-trials", "10", "-o", str(tmp_path / "s.png")], capsys)
    assert code == 0


def test_seed_average_options_and_notes(result, tmp_path, capsys):
    """--steady-trials and --last must be at least 1 (exit 2); a steady window longer than the
    post-change trials, or a file without the held-out series, drops those figures with a note
    instead of silently; and the common criterion never lies below the steady error
    (recovery_figures on curves that all start below steady: criterion = steady)."""
    import json
    run = os.path.join(result["path"], "spikes.h5")
    for option in ("--steady-trials", "--last"):
        code, _, err = _seeds([run, option, "0", "-o", str(tmp_path / "z.png")], capsys)
        assert code == 2 and "at least 1" in err
    js = tmp_path / "long.json"
    code, out, _ = _seeds([run, "--steady-trials", "100", "-o", str(tmp_path / "l.png"),
                           "--json", str(js)], capsys)
    assert code == 0 and "note: cue A: no adaptation figures" in out
    data = json.loads(js.read_text())
    assert data["notes"] and not any(k.startswith("adaptation_") for k in data["figures"])
    assert any(k.startswith("timing_") for k in data["figures"])

    def drop_heldout(f):
        del f["trials"]["heldout_err_when"]
    old = _edited_copy(result, tmp_path, "old", drop_heldout)
    js = tmp_path / "old.json"
    code, out, _ = _seeds([old, "-o", str(tmp_path / "o.png"), "--json", str(js)], capsys)
    assert code == 0 and "no held-out figures" in out
    figures = json.loads(js.read_text())["figures"]
    assert "adaptation_t90_three_factor" in figures
    assert not any(k.startswith("adaptation_heldout_") for k in figures)

    from analysis.what_when import recovery_figures
    e = np.linspace(1.0, 0.5, 40)
    mean = {"three_factor": e, "force_noreset": e * 1.1, "force_reset": e * 1.2}
    # A steady window of all 40 trials: steady = the lowest mean, mean(e) = 0.75. At the
    # change (trial 35) the curves sit at e[35] = 0.55, 0.61 and 0.66, all below it: every
    # jump is negative, so 10 % of the largest jump (floored at 0) adds nothing.
    r = recovery_figures(mean, 35, 40)
    assert r["steady"] == pytest.approx(float(np.mean(e)))
    assert r["threshold"] == r["steady"]


def test_seed_average_of_a_sweep_folder(tmp_path):
    """A sweep folder stands for its finished points: ww-seeds on the folder gives the
    figures of ww-seeds on the point folders listed in its index."""
    import json
    from analysis.cli import main
    sweep = tmp_path / "sweep"
    proc = subprocess.run([os.environ["SNNSIM_BIN"], "sweep",
                           os.path.join(ROOT, "experiments", "what_when_small.toml"),
                           "--sweep", "paradigm.seed=[1,2]", "--out", str(sweep), "--jobs", "2"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    with open(sweep / "index.csv") as f:
        header, *rows = [line.rstrip("\n").split(",") for line in f]
    points = [str(sweep / row[header.index("folder")]) for row in rows]
    assert len(points) == 2
    figures = {}
    for name, args in (("folder", [str(sweep)]), ("points", points)):
        js = tmp_path / f"{name}.json"
        assert main(["ww-seeds", *args, "-o", str(tmp_path / f"{name}.png"), "--json", str(js)]) == 0
        figures[name] = json.loads(js.read_text())
    assert figures["folder"]["figures"] == figures["points"]["figures"]
    assert len(figures["folder"]["runs"]) == 2
    # Only points the index lists as done count: with the second marked failed, the folder
    # stands for the first point alone (the file of the failed point is still there).
    with h5py.File(sweep / "index.h5", "r+") as f:
        status = f["points"]["status"]
        values = [v.decode() if isinstance(v, bytes) else str(v) for v in status[()]]
        values[1] = "failed"
        status[...] = np.asarray(values, dtype=status.dtype)
    js = tmp_path / "one.json"
    assert main(["ww-seeds", str(sweep), "-o", str(tmp_path / "one.png"), "--json", str(js)]) == 0
    one = json.loads(js.read_text())
    assert one["runs"] == [os.path.join(points[0], "spikes.h5")]
    single = tmp_path / "single.json"
    assert main(["ww-seeds", points[0], "-o", str(tmp_path / "p.png"), "--json", str(single)]) == 0
    assert one["figures"] == json.loads(single.read_text())["figures"]


def _replay_when(x, target, gate, eta0, ends):
    """Eq. R1 of models/readout.hpp, written out independently: w starts at 0; per sample,
    E||x||^2 is the running mean of ||x||^2 including this sample, y = max(0, w.x),
    w += eta0 / E||x||^2 * (target - y) * gate * x. Returns the outputs before each update and
    the weights after sample ends[k] - 1 for each k."""
    w = np.zeros(x.shape[1])
    power = 0.0
    outputs = np.empty(len(x))
    at = {}
    for i in range(len(x)):
        xi = x[i].astype(np.float64)
        power += xi @ xi
        y = max(0.0, w @ xi)
        outputs[i] = y
        m = (target[i] - y) * gate[i]
        if m != 0.0:
            w += (eta0 / (power / (i + 1)) * m) * xi
        if i + 1 in ends:
            at[i + 1] = w.copy()
    return outputs, [at[e] for e in ends]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """The small config with cue A's learning samples recorded (readout.record_samples_cue)."""
    return _run_small(tmp_path_factory.mktemp("rec"), "rec", "readout.record_samples_cue=A")


def test_recorded_learning_samples_replay_to_the_run_weights(recorded, tmp_path, capsys):
    """readout.record_samples_cue writes every learning sample of one cue's when readout
    (/learning_samples). Replaying Eq. R1 on them (an independent implementation here) must
    give the recorded outputs before each update and the run's own weights at each block end
    (/weights/<block>/when_A). The features are stored as float32, so agreement is to that
    rounding, not to the bit (measured: 1e-8 relative; checked at 1e-6); a replay with eta0
    5 % off misses by far more (measured 3e-2; checked at > 1e-2).
    ww-spectrum's eigenvalue shares equal those of the singular values of the sample matrix,
    for all samples and for one block's."""
    from analysis.cli import main
    path = recorded
    with h5py.File(path, "r") as f:
        g = f["learning_samples"]
        assert g.attrs["cue"] in ("A", b"A")
        eta0 = float(g.attrs["eta0"])
        precondition = g.attrs["precondition"]
    assert precondition in ("none", b"none")  # the replay below is Eq. R1, not R2
    with h5py.File(path, "r") as f:
        g = f["learning_samples"]
        x, trial = g["x"][()], g["trial"][()]
        target, gate, output = g["target"][()], g["gate"][()], g["output"][()]
        tr = {k: f["trials"][k][()] for k in ("cue", "block")}
        blocks = str(f["trials"].attrs["block_names"]).split(",")
        weights = {b: f["weights"][b]["when_A"][()] for b in blocks}
    assert x.dtype == np.float32 and x.shape[0] == len(trial) == len(gate)
    # Every sample belongs to a cue-A trial; every cue-A trial has the same number of samples.
    cue_a = np.flatnonzero(tr["cue"] == 0)
    assert set(np.unique(trial)) == set(cue_a)
    assert len(set(np.bincount(trial)[cue_a])) == 1
    ends = [int(np.searchsorted(tr["block"][trial], b, side="right")) for b in range(len(blocks))]
    outputs, at_ends = _replay_when(x, target, gate, eta0, ends)
    assert np.max(np.abs(outputs - output)) <= 1e-6 * np.max(output)
    for b, w in zip(blocks, at_ends):
        assert np.linalg.norm(w - weights[b]) <= 1e-6 * np.linalg.norm(weights[b])
    _, off = _replay_when(x, target, gate, 1.05 * eta0, ends[-1:])
    assert np.linalg.norm(off[0] - weights[blocks[-1]]) > 1e-2 * np.linalg.norm(weights[blocks[-1]])
    # ww-spectrum against the singular values of the (selected) sample matrix.
    for block, rows in ((None, slice(None)), (blocks[0], slice(0, ends[0]))):
        sv = np.linalg.svd(x[rows].astype(np.float64), compute_uv=False)
        share = sv ** 2 / np.sum(sv ** 2)
        capsys.readouterr()
        extra = [] if block is None else ["--block", block]
        assert main(["ww-spectrum", str(path), "-o", str(tmp_path / "spec.png")] + extra) == 0
        printed = capsys.readouterr().out
        top = {int(line.split()[1]): float(line.split(":")[1].split("%")[0])
               for line in printed.splitlines() if line.startswith("top ")}
        for k in (1, 10, 50):
            assert abs(top[k] - 100 * share[:k].sum()) < 0.05
    assert main(["ww-spectrum", str(path), "--block", "nosuch", "-o", str(tmp_path / "n.png")]) == 2


def test_rectified_ridge_is_the_fixed_point_of_the_rule():
    """analysis.what_when.rectified_ridge solves x^T (max(0, x w) - d) + lam s w = 0, where the
    three-factor rule's mean update (models/readout.hpp, Eq. R1, with a ridge term) vanishes.
    Checked on random problems by that gradient (relative 1e-10), and on a planted one: with
    d = max(0, x w_true) and a tiny penalty it gives back w_true, where plain ridge cannot."""
    from analysis.what_when import rectified_ridge
    rng = np.random.default_rng(3)
    # Tiny penalties included: plain Newton steps without the line search cycled on some of
    # these (an active set repeating with a period of about 100).
    for trial in range(20):
        n, p = int(rng.integers(30, 600)), int(rng.integers(2, 20))
        x = rng.normal(size=(n, p)) * rng.uniform(0.1, 3.0, size=p)
        d = np.maximum(0.0, x @ rng.normal(size=p) + rng.normal(scale=1.0, size=n))
        s = np.trace(x.T @ x) / p
        fits = rectified_ridge(x, d, [1e-8, 1e-4, 0.01, 0.3, 3.0])
        assert sorted(fits) == [1e-8, 1e-4, 0.01, 0.3, 3.0]
        for lam, (w, converged) in fits.items():
            assert converged
            grad = x.T @ (np.maximum(0.0, x @ w) - d) + lam * s * w
            assert np.linalg.norm(grad) <= 1e-10 * np.linalg.norm(x.T @ d)
    x = rng.normal(size=(800, 6))
    w_true = np.array([1.0, -2.0, 0.5, 0.0, 1.5, -1.0])
    d = np.maximum(0.0, x @ w_true)
    (w, converged), = rectified_ridge(x, d, [1e-12]).values()
    assert converged and np.allclose(w, w_true, atol=1e-8)
    plain = np.linalg.solve(x.T @ x, x.T @ d)
    assert np.max(np.abs(plain - w_true)) > 0.1


def test_offline_fit_curve_on_recorded_samples(recorded, tmp_path, capsys):
    """ww-offline-fit on the recorded small run: one line per n, each test error equal to an
    independent recomputation (the fit at the printed penalty, from the first n cue-A trials
    of the block, scored on its last trials against the expected target), the rule's column
    equal to the held-out errors centred on trial n, and bad requests refused with exit 2."""
    from analysis.cli import main
    from analysis.what_when import rectified_ridge
    capsys.readouterr()
    args = ["ww-offline-fit", str(recorded), "--block", "post", "--fit-trials", "10,3",
            "--validation", "10", "--test", "10", "-o", str(tmp_path / "fit.png")]
    assert main(args) == 0
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith("n = ")]
    assert [int(l.split()[2].rstrip(":")) for l in lines] == [3, 10]
    with h5py.File(recorded, "r") as f:
        g = f["learning_samples"]
        blocks = str(f["trials"].attrs["block_names"]).split(",")
        in_block = f["trials"]["block"][()][g["trial"][()]] == blocks.index("post")
        x = g["x"][()][in_block].astype(np.float64)
        target, expected = g["target"][()][in_block], g["expected"][()][in_block]
        trials = np.unique(g["trial"][()][in_block])
    per = len(x) // len(trials)
    last = slice((len(trials) - 10) * per, None)
    with h5py.File(recorded, "r") as f:
        heldout = f["trials"]["heldout_err_when"][()][trials]
    for line in lines:
        n = int(line.split()[2].rstrip(":"))
        lam = float(line.split("penalty ")[1].split(")")[0].split(",")[0])
        printed = float(line.split("offline fit ")[1].split()[0])
        (w, _), = rectified_ridge(x[:n * per], target[:n * per], [lam]).values()
        err = np.mean((np.maximum(0.0, x[last] @ w) - expected[last]) ** 2)
        assert printed == pytest.approx(err, rel=1e-3)  # printed to 4 significant digits
        # The rule after n trials of the block: held-out errors of the weights frozen at the
        # start of trials n - 2 ... n + 2 (trial k's weights have learned from k trials).
        rule = float(line.rsplit("held out ", 1)[1])
        assert rule == pytest.approx(np.mean(heldout[n - 2:n + 3]), rel=1e-3)
    assert main(args[:3] + ["nosuch"] + args[4:]) == 2
    assert main(args[:5] + ["60"] + args[6:]) == 2  # 60 + 10 + 10 trials > the block's 50


def _replay_frozen(x, target, gate, eta0, starts, per_sample):
    """The weights at each trial's start (starts: first sample of each trial), written out
    independently of analysis.what_when.replay_when: w from 0, y = max(0, w.x), w += eta (target
    - y) gate x with eta = eta0 / (running mean of ||x||^2, this sample included), or with
    per_sample eta0 / ||x||^2 (normalised LMS)."""
    w = np.zeros(x.shape[1])
    power, frozen = 0.0, []
    starts = set(int(s) for s in starts)
    for i in range(len(x)):
        if i in starts:
            frozen.append(w.copy())
        xi = x[i].astype(np.float64)
        p = xi @ xi
        power += p
        m = (target[i] - max(0.0, w @ xi)) * gate[i]
        w += (eta0 / (p if per_sample else power / (i + 1)) * m) * xi
    return np.array(frozen)


def test_replay_gives_back_the_run_and_its_variants(recorded, result, tmp_path, capsys):
    """ww-replay replays the when readout's rule on recorded learning samples. With the run's
    own eta0 and Eq. R1's normalisation its per-trial and held-out error curves must equal the
    run's /trials err_when and heldout_err_when (float32 features: measured 2e-8 relative;
    checked at 1e-6), which ties the replay to the engine. A variant (twice the step,
    normalised per sample, weights averaged over 4 trials) must equal the same errors computed
    here from an independent replay (_replay_frozen), an exponential average of its weights
    and the experiment's scoring written out (per trial: MSE against the expected target over
    the trial's samples; held out: over the samples every bank_sample_ms of trials k .. k + 9,
    not crossing the change). The t90s are recovery_figures of those curves; a run given twice
    has the same mean as alone. --time-windows splits each per-trial error by time since cue:
    windows that cover the trial sum to its error, and the variant's 200-400 ms share equals
    the independent replay's squared errors there over the trial's sample count. A run
    without recorded samples and a bad option exit 2."""
    import json
    import tomllib
    from analysis.cli import main
    from analysis.what_when import recovery_figures
    with h5py.File(recorded, "r") as f:
        g = f["learning_samples"]
        eta0 = float(g.attrs["eta0"])
        s = {k: g[k][()] for k in ("x", "trial", "target", "expected", "gate", "t_ms")}
        tr = {k: f["trials"][k][()] for k in ("cue", "latency_ms", "err_when", "heldout_err_when")}
        cfg = tomllib.loads(f["run"].attrs["config_toml"])
    ids = np.flatnonzero(tr["cue"] == 0)
    change = int(np.flatnonzero(tr["latency_ms"][ids] != tr["latency_ms"][ids[0]])[0])
    steady = cfg["metrics"]["steady_trials"]
    bank_ms = cfg["metrics"].get("bank_sample_ms", 20.0)
    starts = np.searchsorted(s["trial"], ids)
    js = tmp_path / "replay.json"
    capsys.readouterr()
    edges = [0.0, 200.0, 400.0, float(s["t_ms"].max()) + 1.0]  # the last window ends after every sample
    args = ["ww-replay", str(recorded), str(recorded), "--eta0", f"{eta0},{2 * eta0}",
            "--normalise", "mean,sample", "--average-trials", "1,4", "--json", str(js),
            "--time-windows", ",".join(f"{e:g}" for e in edges), "-o", str(tmp_path / "replay.png")]
    assert main(args) == 0
    printed = capsys.readouterr().out
    d = json.loads(js.read_text())
    assert len(d["variants"]) == 8 and printed.count("normalise") == 8
    assert printed.count("  before ") == 8 and printed.count("  last ") == 8
    for x in d["variants"]:
        assert x["window_edges_ms"] == edges
        assert np.allclose(np.sum(x["window_error"], axis=1), x["curve"], rtol=1e-12, atol=0)
    v = {(x["eta0"], x["normalise"], x["average_trials"]): x for x in d["variants"]}

    own = v[(eta0, "mean", 1.0)]
    per = np.array(own["curve"])
    assert np.max(np.abs(per - tr["err_when"][ids]) / tr["err_when"][ids]) <= 1e-6
    held = np.array(own["heldout_curve"], dtype=float)
    run_held = tr["heldout_err_when"][ids][:len(held)]
    ok = np.isfinite(run_held)
    assert ok.sum() >= len(ids) - change  # the run's held-out series covers the change
    assert np.max(np.abs(held[ok] - run_held[ok]) / run_held[ok]) <= 1e-6
    fig = recovery_figures({"three_factor": tr["err_when"][ids]}, change, steady)["figures"]
    assert own["t90"] == fig["t90_three_factor"]
    assert own["run_t90s"] == [fig["t90_three_factor"]] * 2

    # The variant, independently: NLMS at twice the step, weights averaged over 4 trials.
    frozen = _replay_frozen(s["x"], s["target"], s["gate"], 2 * eta0, starts, per_sample=True)
    avg = np.zeros_like(frozen)
    for k in range(1, len(frozen)):
        avg[k] = avg[k - 1] + (frozen[k] - avg[k - 1]) / 4.0
    ends = np.append(starts[1:], len(s["x"]))
    x64 = s["x"].astype(np.float64)
    exp_per, exp_held = [], []
    for k in range(len(ids)):
        y = np.maximum(0.0, x64[starts[k]:ends[k]] @ avg[k])
        exp_per.append(np.mean((y - s["expected"][starts[k]:ends[k]]) ** 2))
        last = min(change if k < change else len(ids), k + 10)
        if k >= change and k + 10 > len(ids):
            continue  # no full bank after the change
        rows = np.arange(starts[k], ends[last - 1])
        rows = rows[np.fmod(s["t_ms"][rows], bank_ms) == 0]
        exp_held.append(np.mean((np.maximum(0.0, x64[rows] @ avg[k]) - s["expected"][rows]) ** 2))
    var = v[(2 * eta0, "sample", 4.0)]
    assert np.allclose(var["curve"], exp_per, rtol=1e-6, atol=0)
    exp_window = []
    for k in range(len(ids)):
        t = s["t_ms"][starts[k]:ends[k]]
        y = np.maximum(0.0, x64[starts[k]:ends[k]] @ avg[k])
        sq = (y - s["expected"][starts[k]:ends[k]]) ** 2
        exp_window.append(sq[(t >= 200.0) & (t < 400.0)].sum() / len(t))
    assert np.allclose(np.array(var["window_error"])[:, 1], exp_window, rtol=1e-6, atol=1e-15)
    assert np.max(exp_window) > 0  # the window is not empty
    assert np.allclose(np.array(var["heldout_curve"], dtype=float)[:len(exp_held)], exp_held,
                       rtol=1e-6, atol=0)
    assert np.max(np.abs(np.array(var["curve"]) - per) / per) > 1e-2  # the options act
    fig = recovery_figures({"three_factor": np.array(exp_per)}, change, steady)["figures"]
    assert var["t90"] == fig["t90_three_factor"]

    # Repeated values are replayed once.
    capsys.readouterr()
    assert main(["ww-replay", str(recorded), "--eta0", f"{eta0},{eta0}", "--json", str(js),
                 "-o", str(tmp_path / "once.png")]) == 0
    assert len(json.loads(js.read_text())["variants"]) == 1
    # Refused: no samples, unknown normalisation, average < 1, a step at or past Eq. R1's
    # stability bound (2), and a steady window whose held-out banks do not fit after the
    # change (steady + bank_trials > post-change trials, as the experiment requires).
    post = len(ids) - change
    for bad in ([str(os.path.join(result["path"], "spikes.h5"))],
                [str(recorded), "--normalise", "mean,nosuch"],
                [str(recorded), "--average-trials", "0.5"],
                [str(recorded), "--eta0", "2"],
                [str(recorded), "--time-windows", "100"],
                [str(recorded), "--time-windows", "0,300,200"],
                [str(recorded), "--time-windows", "0,0,300"],
                [str(recorded), "--time-windows", "-5,300"],
                [str(recorded), "--steady-trials", str(post - 10 + 1)]):
        capsys.readouterr()
        try:
            code = main(["ww-replay", *bad, "-o", str(tmp_path / "bad.png")])
        except SystemExit as e:
            code = e.code
        assert code == 2, bad
    assert not (tmp_path / "bad.png").exists()

def test_recorded_samples_of_a_probabilistic_cue(tmp_path, capsys):
    """Cue D (p = 0.5): each recorded sample's time since the cue is a multiple of
    readout.sample_ms from 0, its expected target is p x exp(-((t - L) / sigma)^2 / 2) and its
    target that shape on trials whose outcome occurred and 0 on the others (computed here from
    /trials and the config); the gate is 1 throughout (surprise and outcome gains are 0 in the
    small config). Its condition does not change, so there is no held-out error of the rule
    to show beside the offline fit (NaN)."""
    import tomllib
    from analysis.cli import main
    path = _run_small(tmp_path, "recd", "readout.record_samples_cue=D")
    with h5py.File(path, "r") as f:
        g = f["learning_samples"]
        s = {k: g[k][()] for k in ("trial", "t_ms", "target", "expected", "gate")}
        tr = {k: f["trials"][k][()] for k in ("cue", "latency_ms", "probability", "occurred",
                                               "block", "heldout_err_when")}
        cfg = tomllib.loads(f["run"].attrs["config_toml"])
    sigma, step = cfg["readout"]["target_sigma_ms"], cfg["readout"]["sample_ms"]
    assert np.all(tr["cue"][s["trial"]] == 3)
    assert np.all(np.isclose(np.mod(s["t_ms"], step), 0.0)) and s["t_ms"].min() == 0.0
    shape = np.exp(-0.5 * ((s["t_ms"] - tr["latency_ms"][s["trial"]]) / sigma) ** 2)
    p = tr["probability"][s["trial"]]
    assert set(np.unique(p)) == {0.5}
    assert np.allclose(s["expected"], p * shape, rtol=1e-12, atol=0)
    occurred = tr["occurred"][s["trial"]].astype(bool)
    assert 0 < occurred.mean() < 1
    assert np.allclose(s["target"], np.where(occurred, shape, 0.0), rtol=1e-12, atol=0)
    assert np.all(s["gate"] == 1.0)
    capsys.readouterr()
    assert main(["ww-offline-fit", str(path), "--block", "post", "--fit-trials", "4,10",
                 "--validation", "10", "--test", "10", "-o", str(tmp_path / "d.png")]) == 0
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith("n = ")]
    # Cue D's condition does not change, so the run kept no held-out bank for it.
    assert np.all(np.isnan(tr["heldout_err_when"][tr["cue"] == 3]))
    assert [l.rsplit("held out ", 1)[1] for l in lines] == ["nan", "nan"]


def test_poisson_cue_stimulus(tmp_path):
    """paradigm.stimulus = "poisson": each cue cell receives its own Poisson input spikes
    during the cue. (1) Bit-identical spikes with 1 and 2 threads (the counts are functions
    of run seed, cell and step), and with them every result dataset and metric but the
    wall-clock ones. (2) /metrics cue_input_spikes against the Poisson mean,
    trials x cells x cue steps x rate x dt, within 5 of its standard deviations (sqrt of the
    mean), and outcome_input_spikes likewise over the trials whose outcome occurs (with
    outcome_input = true). (3) With cue_weight = 0 the run's spikes equal those of a current cue of amplitude
    0: the input path adds nothing else (no other random stream moves). (4) The input
    reaches the reservoir in the cue window: excitatory spikes in the 100 ms after the cue
    onsets outnumber those in the 100 ms before by more than 3x (measured 16x; a step cue of
    10 gave 14x); with weight 0 the ratio stays in (0.8, 1.25) (measured 0.92: without a cue
    the two windows differ only by where they fall in the trial cycle)."""
    import re
    import tomllib
    small = os.path.join(ROOT, "experiments", "what_when_small.toml")
    text = open(small).read()
    rate_hz, weight = 500.0, 20.0  # mean current 11.0 through the 5 ms synapse (step cue: 10)
    poisson, n = re.subn(r"(?m)^cue_amplitude = 10\.0.*$", f'stimulus = "poisson"\n'
                         f"cue_rate_hz = {rate_hz}\ncue_weight = {weight}", text)
    assert n == 1
    config = tmp_path / "poisson.toml"
    config.write_text(poisson)
    cfg = tomllib.loads(config.read_text())

    def run(name, cfg_path, *extra):
        out = tmp_path / name
        proc = subprocess.run([os.environ["SNNSIM_BIN"], "run", str(cfg_path), "--out", str(out),
                               *extra], capture_output=True, text=True, timeout=300,
                              env={**os.environ, "OMP_WAIT_POLICY": "passive"})
        assert proc.returncode == 0, proc.stderr
        return out / "spikes.h5"

    def spikes(path):
        with h5py.File(path, "r") as f:
            return {p: (f["spikes"][p]["timestamps"][()], f["spikes"][p]["node_ids"][()])
                    for p in f["spikes"]}

    def evoked_ratio(path):
        with h5py.File(path, "r") as f:
            t = f["spikes"]["exc"]["timestamps"][()]
            onsets = f["trials"]["start_ms"][()]
        after = sum(np.count_nonzero((t >= c) & (t < c + 100.0)) for c in onsets)
        before = sum(np.count_nonzero((t >= c - 100.0) & (t < c)) for c in onsets)
        return after / before

    one = run("t1", config, "--threads", "1")
    two = run("t2", config, "--threads", "2")
    a, b = spikes(one), spikes(two)
    assert a.keys() == b.keys()
    for p in a:
        np.testing.assert_array_equal(a[p][0], b[p][0])
        np.testing.assert_array_equal(a[p][1], b[p][1])
    # So is everything computed from them: every dataset of the result groups, and every
    # metric but the wall-clock ones.
    timing = ("wall_time_s", "simulation_wall_time_s", "real_time_factor")
    with h5py.File(one, "r") as f, h5py.File(two, "r") as g:
        for group in ("trials", "readouts", "weights", "clock", "stimuli"):
            names = []
            f[group].visit(lambda n: names.append(n) if isinstance(f[group][n], h5py.Dataset)
                           else None)
            assert names, group
            for n in names:
                np.testing.assert_array_equal(f[group][n][()], g[group][n][()], err_msg=n)
        fm, gm = dict(f["metrics"].attrs), dict(g["metrics"].attrs)
        assert fm.keys() == gm.keys()
        for k in fm:
            if k not in timing:
                assert fm[k] == gm[k] or (np.isnan(fm[k]) and np.isnan(gm[k])), k

    with h5py.File(one, "r") as f:
        m = {k: float(v) for k, v in f["metrics"].attrs.items()}
        n_trials = f["trials"]["cue"].shape[0]
    dt = cfg["simulation"]["dt_ms"]
    n_exc = next(p["size"] for p in cfg["population"] if p["name"] == "exc")
    cells = round(cfg["paradigm"]["cue_fraction"] * n_exc)
    steps = round(cfg["paradigm"]["cue_duration_ms"] / dt)
    mean = n_trials * cells * steps * rate_hz * dt * 1e-3
    assert m["stimulus_poisson"] == 1.0 and m["outcome_input_spikes"] == 0.0
    assert abs(m["cue_input_spikes"] - mean) < 5 * np.sqrt(mean), (m["cue_input_spikes"], mean)
    assert evoked_ratio(one) > 3.0

    # The outcome's input, on the trials whose outcome occurs (outcome_fraction and
    # outcome_duration_ms at their defaults, 0.1 and 100 ms, unless the config sets them).
    out_hz = 400.0
    driven = run("outcome", config, "--set", "paradigm.outcome_input=true", "--set",
                 f"paradigm.outcome_rate_hz={out_hz}", "--set", "paradigm.outcome_weight=20")
    with h5py.File(driven, "r") as f:
        occurred = int(np.count_nonzero(f["trials"]["occurred"][()]))
        got = float(f["metrics"].attrs["outcome_input_spikes"])
    o_cells = round(cfg["paradigm"].get("outcome_fraction", 0.1) * n_exc)
    o_steps = round(cfg["paradigm"].get("outcome_duration_ms", 100.0) / dt)
    o_mean = occurred * o_cells * o_steps * out_hz * dt * 1e-3
    assert 0 < occurred < n_trials
    assert abs(got - o_mean) < 5 * np.sqrt(o_mean), (got, o_mean)

    silent = run("w0", config, "--set", "paradigm.cue_weight=0")
    step0 = run("a0", small, "--set", "paradigm.cue_amplitude=0")
    s, c = spikes(silent), spikes(step0)
    for p in c:
        np.testing.assert_array_equal(s[p][0], c[p][0])
        np.testing.assert_array_equal(s[p][1], c[p][1])
    assert 0.8 < evoked_ratio(silent) < 1.25
    with h5py.File(step0, "r") as f:
        assert float(f["metrics"].attrs["stimulus_poisson"]) == 0.0
        assert "cue_input_spikes" not in f["metrics"].attrs


def test_poisson_cue_input_is_exact_at_the_onset(tmp_path):
    """The Poisson cue's charge enters at the onset step itself, cue_weight per input spike.
    Three runs of one short schedule differ only in cue_weight (0, 10, 20) and record every
    exc cell's input current. Up to the first cue onset k0 they are the same network with
    the same noise, so at k0 - 1 their inputs are equal, and at k0 cell i's input differs
    from the weight-0 run by exactly w * n_i / tau_syn (the exponential synapse turns a
    charge q into a current jump q / tau, sim/network.cpp): n_i must be a whole number of
    input spikes, the same for both weights, 0 off the cue's cells (/stimuli), and
    Poisson(lambda) on them. With cue_fraction 0.5 (160 cells; the five cues' subsets then
    wrap and overlap, which the first onset does not mind) and 2000 Hz (lambda = 2 per
    1 ms step), the sum over the cue's cells is Poisson(320), checked within 5 s.d.
    (+-89), and the cells with n_i = 0 within 5 binomial s.d. of 160 exp(-2) = 21.7. A
    one-step delay leaves every n_i at 0, an early one moves k0 - 1, a charge per spike off
    by 1.5 makes n_i not whole, one off by 2 doubles the sum (checked by breaking each on
    purpose)."""
    import re
    import tomllib
    text = open(os.path.join(ROOT, "experiments", "what_when_small.toml")).read()
    rate_hz = 2000.0
    text, n = re.subn(r"(?m)^cue_amplitude = 10\.0.*$",
                      f'stimulus = "poisson"\ncue_rate_hz = {rate_hz}\ncue_weight = 20.0', text)
    assert n == 1
    text, n = re.subn(r"(?m)^cue_fraction = 0\.2", "cue_fraction = 0.5", text)
    assert n == 1
    text, n = re.subn(r"(?m)^trials_per_condition = \d+", "trials_per_condition = 2", text)
    assert n == 2
    text += ('\n[[trace]]\npopulation = "exc"\nnode_ids = [' +
             ", ".join(str(i) for i in range(320)) + "]\n")
    config = tmp_path / "onset.toml"
    config.write_text(text)
    cfg = tomllib.loads(text)
    tau = next(p for p in cfg["population"] if p["name"] == "exc")["synapse"]["tau_ms"]
    dt = cfg["simulation"]["dt_ms"]

    def run(weight):
        out = tmp_path / f"w{weight}"
        proc = subprocess.run([os.environ["SNNSIM_BIN"], "run", str(config), "--out", str(out),
                               "--set", f"paradigm.cue_weight={weight}"],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        with h5py.File(out / "spikes.h5", "r") as f:
            tr = f["traces"]["exc"]
            assert list(tr["node_ids"][()]) == list(range(320))
            # No stop_ms and duration_ms = 0: the trace records to the schedule's end.
            assert np.isclose(tr["time_ms"][-1] + dt, f["metrics"].attrs["model_time_s"] * 1e3)
            names = f["trials"].attrs["cue_names"].split(",")
            first = int(np.argmin(f["trials"]["start_ms"][()]))
            onset_ms = float(f["trials"]["start_ms"][first])
            cells = f["stimuli"]["cues"][names[f["trials"]["cue"][first]]][()]
            k0 = int(np.flatnonzero(np.isclose(tr["time_ms"][()], onset_ms))[0])
            return tr["input"][k0 - 1], tr["input"][k0], cells, onset_ms

    base_before, base, cells, onset = run(0.0)
    assert len(cells) == 160
    counts = {}
    for w in (10.0, 20.0):
        before, at, cells_w, onset_w = run(w)
        assert onset_w == onset and np.array_equal(cells_w, cells)
        np.testing.assert_array_equal(before, base_before)  # nothing before the onset
        n_i = (at - base) * tau / w
        np.testing.assert_allclose(n_i, np.round(n_i), atol=1e-9)
        counts[w] = np.round(n_i).astype(int)
    np.testing.assert_array_equal(counts[10.0], counts[20.0])
    n_i = counts[20.0]
    off = np.setdiff1d(np.arange(320), cells)
    assert np.all(n_i[off] == 0) and np.all(n_i[cells] >= 0)
    lam = rate_hz * dt * 1e-3
    mean = len(cells) * lam
    assert abs(int(n_i[cells].sum()) - mean) < 5 * np.sqrt(mean), n_i[cells].sum()
    zero = int(np.count_nonzero(n_i[cells] == 0))
    p0 = np.exp(-lam)
    assert abs(zero - len(cells) * p0) < 5 * np.sqrt(len(cells) * p0 * (1 - p0)), zero


def test_raster_by_stimulus_bands_are_the_cue_cells(result, tmp_path, capsys):
    """raster --by-stimulus: one band per cue holding exactly the spikes of the cells
    /stimuli names for it (counted here with plain h5py), the band's rows the rank of each
    id in the cue's id list, and a band of the cells in no cue only if there are any (none
    in the small config: 5 cues x 20 % use every exc cell; with 4 cues, the fifth cue's
    cells); inh as it is. A file without /stimuli exits 2."""
    from analysis.cli import main
    from analysis.io import SpikeFile, read_stimuli
    from analysis.plots import split_by_groups
    path = os.path.join(result["path"], "spikes.h5")
    with h5py.File(path, "r") as f:
        ids = f["spikes/exc/node_ids"][()]
        t = f["spikes/exc/timestamps"][()]
        cues = {k: np.sort(f["stimuli/cues"][k][()]) for k in f["stimuli/cues"]}
        n_inh = f["spikes/inh/node_ids"].shape[0]
    with SpikeFile(path) as sf:
        population, read = read_stimuli(sf)
        exc = sf.read("exc")
        bands = split_by_groups({"exc": exc, "inh": sf.read("inh")}, population, read)
    assert population == "exc" and list(read) == ["A", "B", "C", "D", "E"]
    assert list(bands) == [f"exc: {c}" for c in "ABCDE"] + ["inh"]
    for name, cells in cues.items():
        b = bands[f"exc: {name}"]
        inside = np.isin(ids, cells)
        assert b.n_neurons == cells.size and b.n_spikes == int(inside.sum()) > 0
        np.testing.assert_array_equal(b.times_ms, t[inside])
        np.testing.assert_array_equal(cells[b.node_ids], ids[inside])
    four = split_by_groups({"exc": exc}, "exc", {k: read[k] for k in "ABCD"})
    other, in_e = four["exc: other"], np.isin(ids, cues["E"])
    assert list(four)[-1] == "exc: other" and other.n_neurons == cues["E"].size
    np.testing.assert_array_equal(other.times_ms, t[in_e])
    np.testing.assert_array_equal(cues["E"][other.node_ids], ids[in_e])
    assert bands["inh"].n_spikes == n_inh
    out = tmp_path / "raster.png"
    assert main(["raster", result["path"], "--by-stimulus", "-o", str(out),
                 "--t-stop", "5000"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plain = tmp_path / "plain.h5"
    with h5py.File(path, "r") as src, h5py.File(plain, "w") as dst:
        for k in src.attrs:
            dst.attrs[k] = src.attrs[k]
        for k in ("spikes", "run"):
            src.copy(k, dst)
    capsys.readouterr()
    assert main(["raster", str(plain), "--by-stimulus", "-o", str(tmp_path / "x.png")]) == 2
    assert "/stimuli/cues" in capsys.readouterr().err
