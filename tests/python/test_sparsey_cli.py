"""The Sparsey experiments end to end through the snnsim binary (SNNSIM_BIN): exit codes,
the codes as spikes of the `sparsey` population, the /sparsey and /metrics groups, and the
bars of shared/research/sparsey_prototype.md §5 ([P]) on reduced configs.

Reduced configs keep every test to about a second; each bar names its source."""

import os
import subprocess

import h5py
import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIGS = os.path.join(ROOT, "experiments")


def snnsim():
    path = os.environ.get("SNNSIM_BIN")
    if not path:
        pytest.fail("SNNSIM_BIN is not set (scripts/test.sh sets it to the built snnsim)")
    return path


def run(config, out, *sets, threads=None, expect=0):
    cmd = [snnsim(), "run", os.path.join(CONFIGS, config), "--out", str(out)]
    for s in sets:
        cmd += ["--set", s]
    if threads:
        cmd += ["--threads", str(threads)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == expect, r.stdout + r.stderr
    return r


def metrics(out):
    with h5py.File(os.path.join(out, "spikes.h5"), "r") as f:
        return {k: float(v) for k, v in f["metrics"].attrs.items()}


def check_spikes(out, group="sparsey"):
    """One spike per CM per presentation, at i x presentation_ms, node = q K + winner."""
    with h5py.File(os.path.join(out, "spikes.h5"), "r") as f:
        g = f[group]
        Q, K, dt = int(g.attrs["Q"]), int(g.attrs["K"]), float(g.attrs["presentation_ms"])
        codes = g["codes"][()]
        n = codes.shape[0]
        assert codes.shape == (n, Q) and n > 0
        assert g["G"].shape == (n,) and g["eta"].shape == (n,) and g["phase"].shape == (n,)
        pop = g.attrs["population"]
        pop = pop.decode() if isinstance(pop, bytes) else pop
        s = f["spikes"][pop]
        t, ids = s["timestamps"][()], s["node_ids"][()]
        names = [x.decode() if isinstance(x, bytes) else x for x in f["run/population_names"][()]]
        assert f["run/population_sizes"][()][names.index(pop)] == Q * K
        assert t.size == n * Q
        expected_t = np.repeat(np.arange(n) * dt, Q)
        np.testing.assert_allclose(t, expected_t)
        expected_ids = (np.arange(Q) * K + codes).reshape(-1)
        np.testing.assert_array_equal(ids, expected_ids)
        assert f["run"].attrs["complete"] == 1
    return codes


def test_similarity_meets_the_bars_and_shows_the_tension(tmp_path):
    out = tmp_path / "sim"
    run("sparsey_similarity.toml", out)  # the full config: 10 seeds x 100 probes, ~0.2 s
    check_spikes(out, "sparsey")
    check_spikes(out, "sparsey_other")
    m = metrics(out)
    # [P] §5: per-set Spearman >= 0.9 at Q >= 20, lambda = 10, phi = 0.7 (measured there:
    # mean 0.927, min 0.905); we ask mean >= 0.9 and every seed >= 0.85.
    assert m["spearman_mean"] >= 0.90
    assert m["spearman_min"] >= 0.85
    # The mean curve within sampling error of the analytic one: under the analytic model
    # each pooled count is Binomial(200, a), so ~0.3 of 100 probes fall outside 3 SE.
    assert m["curve_fraction_within_3_se"] >= 0.95
    # [P] §5 endpoints: ~Q/K = 0.05 at 0 %, >= 0.95 Q at 100 %.
    assert abs(m["code_overlap_at_0"] - 0.05) <= 0.05
    assert m["code_overlap_at_100"] >= 0.95
    # [P] §3: under the digits setting only a full overlap re-uses the code (Spearman 0.10).
    assert m["other_spearman_mean"] < 0.5
    assert m["codes_per_second"] > 0


def test_capacity_small(tmp_path):
    out = tmp_path / "cap"
    run("sparsey_capacity.toml", out, "sparsey.capacity.stored_counts=[10, 50, 100]",
        "sparsey.capacity.num_seeds=2", "sparsey.compare_other_preset=false")
    codes = check_spikes(out)
    m = metrics(out)
    # [P] §2/§5: argmax re-instates the stored code exactly at low load; at 100 items a wrong
    # cell occasionally reaches U = 1 too and wins the random tie (1 of 200 items here, as in
    # test_sparsey_experiments.cpp), so 100 is held to 95 % exact, 99 % of CMs. G = 1 on
    # re-presentation at any load (weights only grow).
    assert m["exact_recall_at_10"] == 1.0
    assert m["exact_recall_at_50"] == 1.0
    assert m["exact_recall_at_100"] >= 0.95
    assert m["cm_recall_at_100"] >= 0.99
    for load in (10, 50, 100):
        assert m[f"G_stored_at_{load}"] == pytest.approx(1.0, abs=1e-12)
    # [P] §2: novel G rises with load as receptive fields fill (0.7 at 100).
    assert m["G_novel_at_10"] < m["G_novel_at_100"]
    with h5py.File(os.path.join(out, "spikes.h5"), "r") as f:
        assert "sparsey_other" not in f
        t = f["sparsey/capacity"]
        np.testing.assert_array_equal(t["stored"][()], [10, 50, 100])
        # Per seed: learn 100, recall and noisy recall of 10 + 50 + 100, novel 3 x 100.
        assert codes.shape[0] == 2 * (100 + 2 * 160 + 300)


def test_sequences_small(tmp_path):
    out = tmp_path / "seq"
    run("sparsey_sequences.toml", out, "sparsey.sequences.sequence_counts=[10]",
        "sparsey.sequences.lengths=[5]", "sparsey.compare_other_preset=false")
    check_spikes(out)
    m = metrics(out)
    # 40 transitions << K^2 = 400 (sequences.hpp): replay through H is exact.
    assert m["replay_sequence_exact_10x5"] == 1.0
    assert m["next_code_exact_10x5"] == 1.0


def test_digits_small_against_controls(tmp_path):
    out = tmp_path / "dig"
    run("sparsey_digits.toml", out, "sparsey.digits.per_class=[5, 20, 50]",
        "sparsey.digits.draws=2")
    check_spikes(out)
    m = metrics(out)
    # [P] §5: Sparsey >= 1-NN - 3 points for n <= 50 per class; floors 0.70 / 0.78 / 0.83.
    for n, floor in ((5, 0.70), (20, 0.78), (50, 0.83)):
        assert m[f"sparsey_accuracy_{n}"] >= m[f"nn_accuracy_{n}"] - 0.03
        assert m[f"sparsey_accuracy_{n}"] >= floor
        assert 0 < m[f"random_code_accuracy_{n}"] <= 1
        # [P] §6: the similarity setting collapses on dense digit inputs.
        assert m[f"other_sparsey_accuracy_{n}"] < m[f"sparsey_accuracy_{n}"] - 0.2
    with h5py.File(os.path.join(out, "spikes.h5"), "r") as f:
        labels = f["sparsey/label"][()]
        assert set(np.unique(labels)) == set(range(10))
        np.testing.assert_array_equal(f["sparsey/accuracy/per_class"][()], [5, 20, 50])


def test_two_threads_give_the_same_codes(tmp_path):
    a, b = tmp_path / "t1", tmp_path / "t2"
    sets = ("sparsey.similarity.num_seeds=6",)
    run("sparsey_similarity.toml", a, *sets, threads=1)
    run("sparsey_similarity.toml", b, *sets, threads=2)
    with h5py.File(a / "spikes.h5", "r") as fa, h5py.File(b / "spikes.h5", "r") as fb:
        for g in ("sparsey", "sparsey_other"):
            for d in ("codes", "G", "eta", "seed_index", "item", "label"):
                np.testing.assert_array_equal(fa[g][d][()], fb[g][d][()])
    ma, mb = metrics(a), metrics(b)
    for k in ma:
        if "wall_s" not in k and "codes_per_second" not in k:
            assert ma[k] == mb[k], k


def test_episodic_on_a_reservoir_run(tmp_path):
    res = tmp_path / "reservoir"
    run("izhikevich2003.toml", res, "simulation.duration_ms=300")
    out = tmp_path / "epi"
    spikes = str(res / "spikes.h5")
    run("sparsey_episodic.toml", out, 'sparsey.episodic.source="spikes"',
        f'sparsey.episodic.path="{spikes}"', 'sparsey.episodic.population="exc"',
        "sparsey.episodic.bin_ms=10", "sparsey.compare_other_preset=false")
    codes = check_spikes(out)
    m = metrics(out)
    # 300 ms in 10 ms bins: 30 states (minus silent bins), 800 excitatory units.
    assert m["patterns"] + m["skipped"] == 30
    assert m["num_units"] == 800
    assert codes.shape[0] == 3 * m["patterns"]
    # 30 stored states are a low load for a 20 x 20 field ([P] §5): recognition returns
    # the stored codes (allowing one state lost to a tie), and G = 1 for each.
    assert m["exact_recall"] >= 29 / 30
    assert m["G_stored"] == 1.0
    # A typo in the population is exit code 2 naming the file and what it holds.
    r = run("sparsey_episodic.toml", tmp_path / "bad", 'sparsey.episodic.source="spikes"',
            f'sparsey.episodic.path="{spikes}"', 'sparsey.episodic.population="ex"', expect=2)
    assert "no population 'ex'" in r.stderr and "exc, inh" in r.stderr
    assert not (tmp_path / "bad" / "spikes.h5").exists()


def test_episodic_from_npy_and_hdf5(tmp_path):
    rng = np.random.default_rng(5)
    x = np.zeros((25, 300), dtype=bool)
    for row in x:
        row[rng.choice(300, 15, replace=False)] = True
    npy = tmp_path / "states.npy"
    np.save(npy, x)
    h5 = tmp_path / "states.h5"
    with h5py.File(h5, "w") as f:
        f["states"] = x  # h5py's bool type
        f["wrong"] = x.astype(float)
    for source, extra in (("npy", ()), ("hdf5", ('sparsey.episodic.dataset="states"',))):
        out = tmp_path / source
        path = npy if source == "npy" else h5
        run("sparsey_episodic.toml", out, f'sparsey.episodic.source="{source}"',
            f'sparsey.episodic.path="{path}"', "sparsey.compare_other_preset=false", *extra)
        m = metrics(out)
        assert m["patterns"] == 25 and m["mean_active"] == 15 and m["num_units"] == 300
        assert m["exact_recall"] == 1.0  # [P] §5: exact at low load
    r = run("sparsey_episodic.toml", tmp_path / "bad", 'sparsey.episodic.source="hdf5"',
            f'sparsey.episodic.path="{h5}"', 'sparsey.episodic.dataset="wrong"', expect=2)
    assert "float64" in r.stderr


def test_unknown_keys_and_bad_values_are_located(tmp_path):
    r = run("sparsey_similarity.toml", tmp_path / "x", "sparsey.field.lamda_U=2", expect=2)
    assert "lamda_U" in r.stderr and "lambda_U" in r.stderr
    r = run("sparsey_similarity.toml", tmp_path / "y", "sparsey.field.G_minus=1.5", expect=2)
    assert "sparsey.field" in r.stderr
    r = run("sparsey_similarity.toml", tmp_path / "z", 'sparsey.task="digit"', expect=2)
    assert "did you mean" in r.stderr


def test_plots(tmp_path):
    out = tmp_path / "sim"
    run("sparsey_similarity.toml", out, "sparsey.similarity.num_seeds=3")
    env = dict(os.environ, PYTHONPATH=ROOT)
    for cmd in (["sparsey-similarity"], ["sparsey-overlap", "--phase", "probe"]):
        png = tmp_path / f"{cmd[0]}.png"
        r = subprocess.run(["/usr/bin/python3", "-m", "analysis", *cmd, str(out), "-o", str(png)],
                           capture_output=True, text=True, env=env, timeout=120)
        assert r.returncode == 0, r.stderr
        assert png.stat().st_size > 0
    r = subprocess.run(["/usr/bin/python3", "-m", "analysis", "sparsey-digits", str(out), "-o",
                        str(tmp_path / "d.png")], capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "no 'accuracy' table" in r.stderr
