"""Figures of the what/when experiment (``[experiment] type = "what_when"``).

Reads the result groups the experiment writes next to the spikes: ``/trials``,
``/readouts`` (per-trial outputs aligned to the cue, computed with the weights frozen at
trial start), ``/weights/<block>/...`` and ``/metrics``. Subcommands (registered in
``analysis/cli.py``): ``ww-readout``, ``ww-probability``, ``ww-learning``, ``ww-angle``,
``ww-summary``, ``ww-seeds`` (figures on the mean of several runs) and ``ww-spectrum``
(the eigenvalues of the features' second-moment matrix over the learning samples a run
recorded with ``readout.record_samples_cue``) and ``ww-offline-fit`` (how well a readout
fitted offline to a block's first n trials of those samples does, beside the run's rule).
"""

from __future__ import annotations

import argparse

import numpy as np

from .errors import AnalysisInputError
from .io import open_h5, resolve_spike_path


# --------------------------------------------------------------------------- data

class WhatWhenRun:
    """The result groups of one what/when run, loaded into memory."""

    def __init__(self, path: str):
        self.path = resolve_spike_path(path)
        with open_h5(self.path) as f:
            for group in ("trials", "readouts", "metrics"):
                if group not in f:
                    raise AnalysisInputError(self.path, "not a what/when result file",
                                             what=f"/{group}")
            t = f["trials"]
            self.trials = {k: t[k][()] for k in t}
            self.cue_names = str(t.attrs["cue_names"]).split(",")
            self.outcome_names = str(t.attrs["outcome_names"]).split(",")
            self.block_names = str(t.attrs["block_names"]).split(",")
            r = f["readouts"]
            self.t_ms = r["t_ms"][()]
            self.readouts = {k: r[k][()] for k in r if k != "t_ms"}
            self.force_cue = str(r.attrs["force_cue"]) if "force_cue" in r.attrs else None
            self.metrics = {k: float(v) for k, v in f["metrics"].attrs.items()}
            # The readouts the run's own angle metric compares ([metrics] angle_cue,
            # angle_outcome of the resolved config), so plots show the same angle by default.
            self.angle_cue = self.angle_outcome = self.adaptation_cue = None
            self.steady_trials = self.snapshot_trials = None
            # The held-out banks ([metrics] bank_trials, bank_sample_ms; the experiment's
            # defaults when the config does not set them).
            self.bank_trials, self.bank_sample_ms = 10, 20.0
            # /run complete: 1 after a clean close, 0 while running or after an interruption
            # (None in files without the attribute).
            self.complete = None
            if "run" in f and "complete" in f["run"].attrs:
                self.complete = bool(int(f["run"].attrs["complete"]))
            if "run" in f and "config_toml" in f["run"].attrs:
                import tomllib
                text = f["run"].attrs["config_toml"]
                text = text.decode() if isinstance(text, bytes) else str(text)
                metrics_cfg = tomllib.loads(text).get("metrics", {})
                self.angle_cue = metrics_cfg.get("angle_cue")
                self.angle_outcome = metrics_cfg.get("angle_outcome")
                self.adaptation_cue = metrics_cfg.get("adaptation_cue")
                self.steady_trials = metrics_cfg.get("steady_trials")
                self.snapshot_trials = metrics_cfg.get("snapshot_trials")
                self.bank_trials = int(metrics_cfg.get("bank_trials", self.bank_trials))
                self.bank_sample_ms = float(metrics_cfg.get("bank_sample_ms", self.bank_sample_ms))
            # The clock check against time since cue (/clock; None in files without it).
            self.clock = ({k: f["clock"][k][()] for k in f["clock"]} | dict(f["clock"].attrs)
                          if "clock" in f else None)
            self.weights = {}
            if "weights" in f:
                for b in f["weights"]:
                    self.weights[b] = {k: f["weights"][b][k][()] for k in f["weights"][b]}

    def conditions(self, block: int | None = None):
        """(block, cue, latency, probability) of every condition present."""
        tr = self.trials
        keys = set(zip(tr["block"].tolist(), tr["cue"].tolist(), tr["latency_ms"].tolist(),
                       tr["probability"].tolist()))
        return sorted(k for k in keys if block is None or k[0] == block)

    def select(self, block: int, cue: int, last: int) -> np.ndarray:
        """Ids of the last `last` trials of (block, cue)."""
        tr = self.trials
        ids = np.flatnonzero((tr["block"] == block) & (tr["cue"] == cue))
        return ids[-last:]


def aligned_mean(run: WhatWhenRun, readout: str, ids: np.ndarray):
    y = run.readouts[readout][ids]
    return np.nanmean(y, axis=0), np.nanstd(y, axis=0)


def angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return 90.0
    return float(np.degrees(np.arccos(np.clip(a @ b / (na * nb), -1, 1))))


def shuffled_null(a: np.ndarray, b: np.ndarray, count: int = 1000, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.sort([angle_deg(a, rng.permutation(b)) for _ in range(count)])


# --------------------------------------------------------------------------- panels

def panel_readout(ax, run: WhatWhenRun, readout: str = "when", last: int = 100) -> None:
    for (b, c, lat, p) in run.conditions():
        ids = run.select(b, c, last)
        m, s = aligned_mean(run, readout, ids)
        label = f"{run.block_names[b]} {run.cue_names[c]} L={lat:g} p={p:g}"
        line, = ax.plot(run.t_ms, m, label=label)
        ax.fill_between(run.t_ms, m - s, m + s, color=line.get_color(), alpha=0.15)
        ax.axvline(lat, color=line.get_color(), ls=":", lw=0.8)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel("time since cue (ms)")
    ax.set_ylabel(f"{readout} output")
    ax.legend(fontsize=6)


def probability_points(run: WhatWhenRun, last: int = 100):
    """(probability, peak of the mean when output) per condition of the block the run
    scored its probability code on (metric probability_block: the last block that changes
    no probability; older files: the last block), normalised to the p = 1 condition of the
    same latency."""
    last_block = int(run.metrics.get("probability_block", run.trials["block"].max()))
    inside = run.t_ms >= 0
    out = {}
    for (b, c, lat, p) in run.conditions(last_block):
        m, _ = aligned_mean(run, "when", run.select(b, c, last))
        out.setdefault(lat, []).append((p, float(np.nanmax(m[inside]))))
    res = {}
    for lat, pts in out.items():
        ref = [a for p, a in pts if p == 1.0]
        # As the experiment's metrics: the last p = 1 condition (in cue order) is the reference.
        if ref and ref[-1] > 0:
            res[lat] = sorted((p, a / ref[-1]) for p, a in pts)
    return res


def panel_probability(ax, run: WhatWhenRun, last: int = 100) -> None:
    for lat, pts in probability_points(run, last).items():
        p, a = np.array(pts).T
        ax.plot(p, a, "o-", label=f"L = {lat:g} ms")
    ax.plot([0, 1], [0, 1], "k:", lw=0.8, label="identity")
    ax.set_xlabel("outcome probability")
    ax.set_ylabel("peak amplitude / peak at p = 1")
    ax.legend(fontsize=7)


def panel_learning(ax, run: WhatWhenRun, smooth: int = 5) -> None:
    tr = run.trials
    cue = run.cue_names.index(run.force_cue) if run.force_cue else 0
    ids = np.flatnonzero(tr["cue"] == cue)
    kernel = np.ones(smooth) / smooth
    for key, label in (("err_when", "three-factor"), ("err_force_noreset", "FORCE, no reset"),
                       ("err_force_reset", "FORCE, P reset")):
        e = tr[key][ids]
        if np.all(np.isnan(e)):
            continue
        ax.plot(np.convolve(np.nan_to_num(e), kernel, mode="same"), label=label)
    changes = np.flatnonzero(np.diff(tr["block"][ids]) != 0) + 1
    for c in changes:
        ax.axvline(c, color="k", ls="--", lw=0.8)
    ax.set_yscale("log")
    ax.set_xlabel(f"trial of cue {run.cue_names[cue]}")
    ax.set_ylabel("MSE vs expected target")
    ax.legend(fontsize=7)


def angle_data(run: WhatWhenRun, cue: str, outcome: str, other: WhatWhenRun | None = None):
    last = run.block_names[-1]
    when = run.weights[last][f"when_{cue}"][:-1]
    what = run.weights[last][f"what_{outcome}"][:-1]
    res = {"angle": angle_deg(what, when), "null": shuffled_null(what, when)}
    if other is not None:
        o_last = other.block_names[-1]
        res["across_when"] = angle_deg(when, other.weights[o_last][f"when_{cue}"][:-1])
        res["across_what"] = angle_deg(what, other.weights[o_last][f"what_{outcome}"][:-1])
    return res


# The acceptance figures of the clock check (mean absolute error of time since cue, ms).
CLOCK_TARGETS_MS = {200.0: 40.0, 600.0: 100.0, 1000.0: 250.0}


def panel_clock(ax, run: WhatWhenRun) -> None:
    """The offline clock decoder's error against time since cue on held-out trials (/clock),
    beside a uniform guess (chance) and the acceptance figures."""
    c = run.clock
    if c is None:
        ax.text(0.5, 0.5, "no /clock in this file", ha="center", va="center",
                transform=ax.transAxes)
        ax.axis("off")
        return
    ax.plot(c["t_ms"], c["mae_ms"], "o-", ms=2.5, label=f"ridge decoder, "
            f"{int(c['test_trials'])} test trials")
    ax.plot(c["t_ms"], c["chance_mae_ms"], color="0.5", ls="--", lw=0.8,
            label="uniform guess")
    t_max = float(c["t_ms"][-1])
    pts = [(t, v) for t, v in CLOCK_TARGETS_MS.items() if t <= t_max]
    if pts:
        ax.plot(*zip(*pts), "v", color="C3", label="acceptance (at most)")
    ax.set(xlabel="time since cue (ms)", ylabel="mean absolute error (ms)", ylim=(0, None))
    ax.legend(fontsize=7)


def panel_angle(ax, run: WhatWhenRun, cue: str, outcome: str, other=None) -> dict:
    d = angle_data(run, cue, outcome, other)
    ax.hist(d["null"], bins=40, color="0.7", label="neuron-permutation null")
    lo, hi = np.quantile(d["null"], [0.025, 0.975])
    ax.axvspan(lo, hi, color="0.85", alpha=0.5)
    ax.axvline(d["angle"], color="C3", label=f"what/when {d['angle']:.1f}°")
    for k, c in (("across_when", "C0"), ("across_what", "C2")):
        if k in d:
            ax.axvline(d[k], color=c, ls="--", label=f"{k.replace('_', ' ')} {d[k]:.1f}°")
    ax.set_xlabel("angle (deg)")
    ax.legend(fontsize=7)
    return d


# --------------------------------------------------------------------------- across runs
#
# The acceptance figures of one run are in its /metrics. Per-trial errors and single-run
# readout peaks are noisy (one trial's error is mostly reservoir noise; network seeds place
# peaks 20-50 ms apart), so the figures are also wanted on the mean over several runs
# (network and schedule seeds): the same definitions as the experiment's, applied to the
# runs' mean curves. Held-out figures need the experiment's feature banks, which are not in
# the file: only the per-trial ones are recomputed here.

LEARNERS = (("three_factor", "err_when", "three-factor"),
            ("force_noreset", "err_force_noreset", "FORCE, no reset"),
            ("force_reset", "err_force_reset", "FORCE, P reset"))


def timing_band(latency_ms: float) -> tuple[float, float]:
    """The acceptance band of the readout peak: [L - max(80, 0.1 L), L + max(30, 0.05 L)] ms
    (as timing_band in experiments/what_when/paradigm.cpp)."""
    return latency_ms - max(80.0, 0.1 * latency_ms), latency_ms + max(30.0, 0.05 * latency_ms)


def smoothed_since(e: np.ndarray, change: int, smooth: int = 5) -> np.ndarray:
    """s_t for t >= change: the mean of e over the last `smooth` trials at or before t, not
    reaching back before the change (smoothed_since in paradigm.cpp)."""
    return np.array([np.mean(e[max(change, t + 1 - smooth):t + 1]) for t in range(change, len(e))])


def first_below(s: np.ndarray, threshold: float) -> int | None:
    hits = np.flatnonzero(s <= threshold)
    return int(hits[0]) if hits.size else None


def cue_change(run: WhatWhenRun, cue: int):
    """Trial ids of `cue` up to its second change, and the index (into them) of its first
    change of latency or probability; None when the cue never changes."""
    tr = run.trials
    ids = np.flatnonzero(tr["cue"] == cue)
    cond = np.stack([tr["latency_ms"][ids], tr["probability"][ids]], axis=1)
    changes = np.flatnonzero(np.any(cond[1:] != cond[:-1], axis=1)) + 1
    if changes.size == 0:
        return ids, None
    end = changes[1] if changes.size > 1 else len(ids)
    return ids[:end], int(changes[0])


def recovery_figures(mean: dict, change: int, steady_trials: int, smooth: int = 5):
    """t90s of per-learner error curves after the change at index `change`, as the
    experiment's recovery_metrics: steady = the lowest mean of the last `steady_trials`
    among the learners; t90 = trials until the smoothed curve has lost 90 % of its own jump
    above steady; common_t90 (three learners) = trials until it is below steady + 10 % of
    the largest jump; not recovered = censored at the post-change count. None when a curve
    has missing values after the change."""
    if any(np.any(np.isnan(m[change:])) for m in mean.values()):
        return None
    steady = min(float(np.mean(m[-steady_trials:])) for m in mean.values())
    post = float(len(mean["three_factor"]) - change)
    fig = {"steady_error": steady}
    sm = {k: smoothed_since(m, change, smooth) for k, m in mean.items()}
    jumps = {k: float(v[0] - steady) for k, v in sm.items()}
    # As max_jump in recovery_metrics (what_when.cpp), which starts at 0: curves that all start below steady
    # put the criterion at steady itself.
    threshold = steady + 0.1 * max(0.0, *jumps.values())

    def t90(k):
        return (post, 1.0) if k is None else (float(k), 0.0)
    own = {k: t90(0 if jumps[k] <= 0 else first_below(v, steady + 0.1 * jumps[k]))
           for k, v in sm.items()}
    common = {k: t90(first_below(v, threshold)) for k, v in sm.items()}
    for k in mean:
        fig[f"t90_{k}"], fig[f"t90_{k}_censored"] = own[k]
    if len(mean) == 3:
        fig["common_criterion_error"] = threshold
        for k in mean:
            fig[f"common_t90_{k}"], fig[f"common_t90_{k}_censored"] = common[k]
    for k in ("force_noreset", "force_reset"):
        if k in mean and own["three_factor"][0] > 0:
            fig[f"ratio_{k}"] = own[k][0] / own["three_factor"][0]
        if len(mean) == 3 and common["three_factor"][0] > 0:
            fig[f"common_ratio_{k}"] = common[k][0] / common["three_factor"][0]
    return {"figures": fig, "steady": steady, "threshold": threshold}


def adaptation_prefix(run: WhatWhenRun, cue_name: str, ids: np.ndarray, change: int) -> str:
    """The names of a cue's adaptation figures, as adaptation_metrics in what_when.cpp: the
    run's [metrics] adaptation_cue reports adaptation_*, another cue
    adaptation_<cue>_L<from>_to_L<to>_* (latency change) or adaptation_<cue>_p<from>_to_p<to>_*
    (probability change, in percent)."""
    if cue_name == run.adaptation_cue:
        return "adaptation_"
    tr = run.trials
    a, b = ids[change - 1], ids[change]
    if tr["latency_ms"][a] != tr["latency_ms"][b]:
        return f"adaptation_{cue_name}_L{tr['latency_ms'][a]:.0f}_to_L{tr['latency_ms'][b]:.0f}_"
    return (f"adaptation_{cue_name}_p{100 * tr['probability'][a]:.0f}_to_"
            f"p{100 * tr['probability'][b]:.0f}_")


def seed_average(runs: list[WhatWhenRun], cue_name: str, last: int, steady_trials: int,
                 smooth: int = 5) -> dict:
    """Adaptation and timing figures of `cue_name` on the mean over runs.

    Adaptation (the cue's first change): recovery_figures of the learners' mean per-trial
    error across runs, and of their mean held-out error (/trials heldout_err_*) with the
    prefix heldout_. The amplitude-tracking t90s the experiment adds for probability
    changes are not computed here.
    Timing (every p = 1 condition of the cue): the mean over runs of each run's mean output
    over the last `last` trials of the condition, its peak, band and rise (>= 0.9 of the
    peak at L - 50 ms).
    Runs must be finished (/run complete = 1) and share the cue's schedule (trial counts,
    change, conditions), the readout time grid, the outcome-input setting and the learners
    that ran on the cue; a run that differs is named in the error. Figures that cannot be
    computed are listed in res["notes"].
    """
    first = runs[0]
    res = {"runs": len(runs), "figures": {}, "traces": {}, "notes": [], "prefix": "adaptation_"}
    fig = res["figures"]
    ref = None
    for run in runs:
        if run.complete is False:
            raise AnalysisInputError(run.path, "the run did not finish (/run complete = 0): "
                                     "its /trials and /metrics are partial", what="/run")
        if cue_name not in run.cue_names:
            raise AnalysisInputError(run.path, f"no cue {cue_name!r} (cues: "
                                     f"{', '.join(run.cue_names)})", what="/trials")
        cue = run.cue_names.index(cue_name)
        ids, change = cue_change(run, cue)
        tr = run.trials
        key = (len(ids), change, tuple(tr["latency_ms"][ids]), tuple(tr["probability"][ids]))
        if ref is None:
            ref = key
        elif key != ref:
            raise AnalysisInputError(run.path, f"cue {cue_name}: its schedule (trial count, "
                                     f"change point, latencies, probabilities) differs from "
                                     f"that of {first.path}", what="/trials")
        if run.t_ms.shape != first.t_ms.shape or not np.array_equal(run.t_ms, first.t_ms):
            raise AnalysisInputError(run.path, f"the readout time grid ({run.t_ms.size} "
                                     f"samples) differs from that of {first.path} "
                                     f"({first.t_ms.size} samples)", what="/readouts/t_ms")
        if run.metrics.get("outcome_input") != first.metrics.get("outcome_input"):
            raise AnalysisInputError(run.path, f"outcome_input = {run.metrics.get('outcome_input')} "
                                     f"differs from {first.metrics.get('outcome_input')} in "
                                     f"{first.path} (timing is scored on other trials)",
                                     what="/metrics")
    n, change = ref[0], ref[1]
    if change is None:
        res["notes"].append(f"cue {cue_name} never changes latency or probability: no "
                            "adaptation figures")
    elif change < steady_trials or n - change <= steady_trials:
        res["notes"].append(f"cue {cue_name}: no adaptation figures, the steady error over "
                            f"{steady_trials} trials needs at least that many trials before "
                            f"the change (has {change}) and more after it (has {n - change})")
    else:
        ids = [cue_change(run, run.cue_names.index(cue_name))[0] for run in runs]
        res["prefix"] = adaptation_prefix(first, cue_name, ids[0], change)
        fig["pre_change_trials"] = float(change)
        fig["post_change_trials"] = float(n - change)
        res["change"] = change
        res["latency_change"] = bool(ref[2][change - 1] != ref[2][change])
        for tag, column in (("", "err_"), ("heldout_", "heldout_err_")):
            old = [run for run in runs if column + "when" not in run.trials]
            if old:  # files written before the held-out series were saved
                what = "held-out" if tag else "per-trial"
                res["notes"].append(f"no {what} figures: {old[0].path} has no "
                                    f"/trials/{column}when")
                continue
            stacks = {}
            for name, key, label in LEARNERS:
                key = column + key[len("err_"):]
                e = np.stack([run.trials[key][i] for run, i in zip(runs, ids)])
                ran = ~np.all(np.isnan(e[:, change:]), axis=1)  # the learner ran on the cue
                if not ran.any():
                    continue  # no FORCE on this cue
                if not ran.all():
                    lacking, having = int(np.flatnonzero(~ran)[0]), int(np.flatnonzero(ran)[0])
                    raise AnalysisInputError(runs[lacking].path, f"cue {cue_name}: no {label} "
                                             f"error after the change, which "
                                             f"{runs[having].path} has (the runs differ in "
                                             "force.cues)", what=f"/trials/{key}")
                stacks[name] = e
            end = n
            if tag:  # held out: scored up to the last trial with a full bank in every run
                defined = np.flatnonzero(~np.any(np.isnan(stacks["three_factor"]), axis=0))
                if defined.size == 0:
                    res["notes"].append("no held-out figures: no trial has a held-out error "
                                        "in every run")
                    continue
                end = int(defined[-1]) + 1
            for name, e in stacks.items():
                bad = np.flatnonzero(np.any(np.isnan(e[:, change:end]), axis=1))
                if bad.size:
                    raise AnalysisInputError(runs[int(bad[0])].path, f"cue {cue_name}: "
                                             f"{column}{name} has missing values after the "
                                             "change", what="/trials")
            mean = {k: e[:, :end].mean(axis=0) for k, e in stacks.items()}
            r = recovery_figures(mean, change, steady_trials, smooth)
            for k, v in r["figures"].items():
                fig[tag + k] = v
            res[tag + "curves"], res[tag + "steady"] = mean, r["steady"]
            res[tag + "threshold"] = r["threshold"]
    inside = first.t_ms >= 0
    omission_only = first.metrics.get("outcome_input", 0.0) == 1.0
    for (b, c, lat, p) in first.conditions():
        if first.cue_names[c] != cue_name or p != 1.0:
            continue
        traces = []
        for run in runs:
            tr = run.trials
            sel = (tr["block"] == b) & (tr["cue"] == c)
            if omission_only:
                sel &= tr["occurred"] == 0
            ids = np.flatnonzero(sel)[-last:]
            if ids.size:
                traces.append(run.readouts["when"][ids][:, inside].mean(axis=0))
        if not traces:
            continue
        y, t = np.mean(traces, axis=0), first.t_ms[inside]
        k = int(np.argmax(y))
        lo, hi = timing_band(lat)
        j = np.flatnonzero(t <= lat - 50.0)
        at_rise = float(y[j[-1]]) if j.size else float(y[0])
        tag = f"timing_{first.block_names[b]}_{cue_name}_"
        fig[tag + "latency_ms"] = float(lat)
        fig[tag + "peak_ms"] = float(t[k])
        fig[tag + "in_band"] = float(lo <= t[k] <= hi)
        fig[tag + "rise_ratio"] = at_rise / float(y[k]) if y[k] > 0 else 0.0
        fig[tag + "peak"] = float(y[k])
        res["traces"][f"{first.block_names[b]} L={lat:g}"] = (t, y, lat)
    return res


def panel_seed_errors(ax, res: dict, cue_name: str, tag: str = "") -> None:
    """Mean error curves of the learners around the change (5-trial smoothing, restarted
    at the change), with the steady error and the common criterion; tag "" per trial,
    "heldout_" held out."""
    curves = res.get(tag + "curves")
    if not curves:
        ax.axis("off")
        return
    ch = res["change"]
    lo = max(0, ch - 50)
    for (name, _, label), color in zip(LEARNERS, ("C0", "C1", "C2")):
        if name in curves:
            m = curves[name]
            sm = np.concatenate([smoothed_since(m[:ch], lo), smoothed_since(m, ch)])
            ax.plot(np.arange(lo, len(m)) - ch, sm, color=color, label=label)
    ax.axvline(0, color="k", ls="--", lw=0.8)
    ax.axhline(res[tag + "steady"], color="0.4", lw=0.8, label="steady error")
    ax.axhline(res[tag + "threshold"], color="0.4", ls=":", lw=0.8,
               label="common criterion (steady + 10 % of the largest jump)")
    ax.set_yscale("log")
    ax.set_xlabel(f"trials of cue {cue_name} since the change")
    what = "held-out MSE" if tag else "MSE"
    ax.set_ylabel(f"{what}, mean of {res['runs']} runs")
    ax.legend(fontsize=6)


def panel_seed_timing(ax, res: dict) -> None:
    for label, (t, y, lat) in res["traces"].items():
        line, = ax.plot(t, y, label=label)
        lo, hi = timing_band(lat)
        ax.axvspan(lo, hi, color=line.get_color(), alpha=0.12)
        ax.axvline(lat, color=line.get_color(), ls=":", lw=0.8)
    ax.set_xlabel("time since cue (ms)")
    ax.set_ylabel(f"when output, mean of {res['runs']} runs")
    ax.legend(fontsize=7)


def expand_runs(paths: list[str]) -> list[str]:
    """Run folders or spike files; a sweep folder (index.csv or index.h5) stands for the
    points its index lists as done (other points are named on stderr)."""
    import os
    from .errors import warn
    from .io import read_sweep_index
    out = []
    for p in paths:
        if os.path.isdir(p) and any(os.path.exists(os.path.join(p, f))
                                    for f in ("index.csv", "index.h5")):
            index = read_sweep_index(p)
            done = index.done()
            for i in np.flatnonzero(~done):
                warn(p, f"point {index.columns['point'][i]} skipped (status "
                     f"{index.columns['status'][i]})")
            if not done.any():
                raise AnalysisInputError(p, "sweep folder without finished points (no "
                                         "status 'done')", what="sweep index")
            out += [index.spike_file(int(i)) for i in np.flatnonzero(done)]
        else:
            out.append(p)
    return out


def _shared(runs: list[WhatWhenRun], attr: str, option: str):
    """A config value every run shares (None when no run records it); runs that differ are
    refused, naming the option that settles it."""
    values = [getattr(r, attr) for r in runs]
    for r, v in zip(runs, values):
        if v != values[0]:
            raise AnalysisInputError(r.path, f"metrics.{attr} = {v} differs from {values[0]} "
                                     f"in {runs[0].path}; choose one with {option}",
                                     what="/run config_toml")
    return values[0]


def seeds_command(args, output, save) -> None:
    import json
    import matplotlib.pyplot as plt
    paths = expand_runs(args.runs)
    runs = [WhatWhenRun(p) for p in paths]
    first = runs[0]
    # Defaults as the experiment's: metrics.adaptation_cue (itself force.cue's first cue),
    # steady_trials 20, snapshot_trials 100, when a file's config does not say.
    cue = args.cue if args.cue is not None else _shared(runs, "adaptation_cue", "--cue")
    if cue is None:
        cue = first.force_cue or first.cue_names[0]
    steady = (args.steady_trials if args.steady_trials is not None
              else _shared(runs, "steady_trials", "--steady-trials"))
    last = args.last if args.last is not None else _shared(runs, "snapshot_trials", "--last")
    res = seed_average(runs, cue, 100 if last is None else last, 20 if steady is None else steady)
    args.file = args.runs[0]
    out = output(args, "ww-seeds")
    prefix = {k: ("" if k.startswith("timing_") else res["prefix"]) for k in res["figures"]}
    print(f"cue {cue}, mean of {len(runs)} runs:")
    for note in res["notes"]:
        print(f"note: {note}")
    for k, v in res["figures"].items():
        print(f"{prefix[k]}{k} = {v:.6g}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": paths, "cue": cue, "notes": res["notes"],
                       "figures": {prefix[k] + k: v for k, v in res["figures"].items()}},
                      f, indent=1)
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(16, 4.5))
    panel_seed_errors(a, res, cue)
    panel_seed_errors(b, res, cue, "heldout_")
    panel_seed_timing(c, res)
    fig.suptitle(args.title or f"what/when, cue {cue}: mean of {len(runs)} runs", fontsize=10)
    fig.tight_layout()
    save(fig, args, out)


def _learning_samples(f, path: str):
    """The run's /learning_samples group (readout.record_samples_cue), or a clear input error."""
    if "learning_samples" not in f:
        raise AnalysisInputError(path, "no recorded learning samples (run with --set "
                                 "readout.record_samples_cue=<cue>)", what="/learning_samples")
    return f["learning_samples"]


def _sample_blocks(f, path: str, samples, block: str) -> np.ndarray:
    """True for each recorded sample that belongs to a trial of `block` (a block name)."""
    names = str(f["trials"].attrs["block_names"]).split(",")
    if block not in names:
        raise AnalysisInputError(path, f"no block '{block}' (blocks: {', '.join(names)})",
                                 what="/trials")
    return f["trials"]["block"][()][samples["trial"][()]] == names.index(block)


def feature_spectrum(path: str, block: str | None = None, chunk: int = 8192) -> dict:
    """Eigenvalues of R = E[x x^T] over a run's recorded learning samples
    (``/learning_samples``, written with ``readout.record_samples_cue``), optionally only
    those of one block's trials. R is what sets the speed of the rule along each direction:
    LMS converges along an eigenvector at a rate proportional to its eigenvalue (Widrow &
    Stearns 1985; models/readout.hpp, Eq. R1). Returns the eigenvalues (descending), their
    shares of the trace and the cumulative shares."""
    path = resolve_spike_path(path)
    with open_h5(path) as f:
        g = _learning_samples(f, path)
        cue = str(g.attrs["cue"])
        x = g["x"]
        keep = (np.ones(x.shape[0], dtype=bool) if block is None
                else _sample_blocks(f, path, g, block))
        n = int(keep.sum())
        if n == 0:
            raise AnalysisInputError(path, "no learning samples in the selection",
                                     what="/learning_samples")
        gram = np.zeros((x.shape[1], x.shape[1]))
        for start in range(0, x.shape[0], chunk):
            rows = x[start:start + chunk].astype(np.float64)[keep[start:start + chunk]]
            gram += rows.T @ rows
    eig = np.linalg.eigvalsh(gram / n)[::-1]
    eig = np.clip(eig, 0.0, None)  # rounding leaves tiny negative values of a PSD matrix
    share = eig / eig.sum()
    return {"cue": cue, "block": block, "samples": n, "eigenvalues": eig, "share": share,
            "cumulative": np.cumsum(share)}


def _exact_line_search(z: np.ndarray, q: np.ndarray, d: np.ndarray, w: np.ndarray,
                       p: np.ndarray, ridge: float) -> float:
    """The minimum over t >= 0 of J(w + t p) for rectified_ridge's J, given z = x w and
    q = x p: J's derivative along p, sum q (max(0, z + t q) - d) + ridge (w + t p).p, is
    piecewise linear and non-decreasing in t, with breakpoints where a sample's drive
    z + t q crosses 0; the root lies in the first piece whose end it does not pass."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t_cross = np.where(q != 0, -z / q, np.inf)
    active = (z > 0) | ((z == 0) & (q > 0))  # just after t = 0
    slope0 = float(q[active] @ z[active] - q @ d + ridge * (w @ p))
    curv0 = float(q[active] @ q[active] + ridge * (p @ p))
    later = np.flatnonzero((t_cross > 0) & np.isfinite(t_cross))
    order = later[np.argsort(t_cross[later], kind="stable")]
    sign = np.where(q[order] > 0, 1.0, -1.0)  # q > 0: the sample's drive turns positive
    slope = slope0 + np.concatenate(([0.0], np.cumsum(sign * q[order] * z[order])))
    curv = curv0 + np.concatenate(([0.0], np.cumsum(sign * q[order] * q[order])))
    ends = np.concatenate((t_cross[order], [np.inf]))
    roots = -slope / curv
    k = int(np.argmax(roots <= ends))
    return max(0.0, float(roots[k]))


def rectified_ridge(x: np.ndarray, d: np.ndarray, penalties, gram: np.ndarray | None = None,
                    max_iterations: int = 200) -> dict:
    """Ridge fit of a rectified readout y = max(0, w.x) the way the three-factor rule fits it:
    the rule's mean update E[(d - max(0, w.x)) x] (models/readout.hpp, Eq. R1; no ReLU
    derivative) vanishes, with a ridge term, where
        x^T (max(0, x w) - d) + lam * s * w = 0,   s = trace(x^T x) / p,
    the minimum of the strictly convex J(w) = sum(F(x w) - d x w) + lam s |w|^2 / 2,
    F(y) = max(0, y)^2 / 2 (FORCE's rectified target d + min(0, w.x) has the same fixed
    point). J is piecewise quadratic; it is minimised by Newton's method with an exact line
    search (Keerthi & DeCoste 2005, J. Mach. Learn. Res. 6:341, "modified finite Newton"):
    with A the samples of positive drive at w, the Newton point solves
    (x_A^T x_A + lam s I) w_N = x^T d; when w_N's own positive set is A it is the exact
    minimum, otherwise w moves to the minimum of J on the segment towards w_N. The first
    point is the plain ridge fit at the largest penalty; each smaller penalty starts from the
    last one's solution; x_A^T x_A is updated by the rows that enter or leave A. `gram` =
    x^T x when the caller has it. Returns {lam: (w, converged)}."""
    rhs = x.T @ d
    eye = np.eye(x.shape[1])
    g_all = (x.T @ x) if gram is None else gram
    scale = float(np.trace(g_all)) / x.shape[1]
    w = np.linalg.solve(g_all + max(penalties) * scale * eye, rhs)
    active = np.ones(x.shape[0], dtype=bool)
    g = g_all.copy()
    out = {}
    for lam in sorted(penalties, reverse=True):
        ridge = lam * scale
        converged = False
        for _ in range(max_iterations):
            z = x @ w
            now = z > 0
            enter, leave = now & ~active, active & ~now
            if enter.any() or leave.any():
                g += x[enter].T @ x[enter] - x[leave].T @ x[leave]
                active = now
            w_newton = np.linalg.solve(g + ridge * eye, rhs)
            z_newton = x @ w_newton
            if np.array_equal(z_newton > 0, active):
                w, converged = w_newton, True
                break
            t = _exact_line_search(z, z_newton - z, d, w, w_newton - w, ridge)
            w = w + t * (w_newton - w)
        out[lam] = (w, converged)
    return out


OFFLINE_PENALTIES = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)


def offline_fit_curve(path: str, block: str, fit_trials, validation: int = 25, test: int = 25,
                      smooth: int = 5) -> dict:
    """For each n in fit_trials: a rectified ridge readout (rectified_ridge) fitted from
    scratch to the first n trials of `block` in the run's recorded learning samples, its
    penalty chosen on the `validation` trials before the block's last `test` trials, and its
    mean squared error against the expected target on those last `test` trials. Beside it
    the run's own rule: the held-out error of its frozen weights after n trials of the block
    (/trials heldout_err_when, the `smooth`-trial mean centred there; NaN where the run kept
    no held-out bank, e.g. before a change), scored on other trials (the next 10 of the cue)
    than the fit, so the two compare as long as the condition is stationary. What
    the offline curve shows is how many trials of data a linear readout of these features
    needs, whatever its learning rule."""
    path = resolve_spike_path(path)
    with open_h5(path) as f:
        g = _learning_samples(f, path)
        if "expected" not in g:
            raise AnalysisInputError(path, "the learning samples have no expected targets",
                                     what="/learning_samples/expected")
        trial = g["trial"][()]
        rows = np.flatnonzero(_sample_blocks(f, path, g, block))
        ids, counts = np.unique(trial[rows], return_counts=True)
        if ids.size == 0 or np.any(counts != counts[0]):
            raise AnalysisInputError(path, f"block '{block}' has no trials of equal sample "
                                     "counts in the recording", what="/learning_samples")
        per = int(counts[0])
        need = max(fit_trials) + validation + test
        if need > ids.size:
            raise AnalysisInputError(path, f"block '{block}' has {ids.size} trials of the "
                                     f"recorded cue; {max(fit_trials)} to fit, {validation} to "
                                     f"validate and {test} to test need {need}",
                                     what="/learning_samples")
        lo, hi = rows[0], rows[-1] + 1  # a block's samples are contiguous (learning order)
        if hi - lo != rows.size:
            raise AnalysisInputError(path, f"block '{block}' is not one stretch of the "
                                     "recorded samples", what="/learning_samples")
        x = g["x"][lo:hi].astype(np.float64).reshape(ids.size, per, -1)
        expected = g["expected"][lo:hi].reshape(ids.size, per)
        target = g["target"][lo:hi].reshape(ids.size, per)
        gate = g["gate"][lo:hi].reshape(ids.size, per)
        cue = str(g.attrs["cue"])
        heldout = f["trials"]["heldout_err_when"][()][ids]

    def error(w, sel):
        return float(np.mean((np.maximum(0.0, x[sel] @ w) - expected[sel]) ** 2))

    # The rule learns from gate x error (M = (target - y) * gate): its fixed point weights
    # each sample by its gate, which scaling x and d by sqrt(gate) gives exactly (the ReLU
    # commutes with a non-negative factor). The default gate is 1 on every sample.
    if np.all(gate == 1.0):
        xf, tf = x, target
    else:
        root = np.sqrt(gate)
        xf, tf = x * root[..., None], target * root

    val = np.arange(ids.size - test - validation, ids.size - test)
    tst = np.arange(ids.size - test, ids.size)
    points = []
    gram = np.zeros((x.shape[2], x.shape[2]))
    done = 0
    for n in sorted(fit_trials):
        more = xf[done:n].reshape((n - done) * per, -1)  # the Gram matrix grows trial by trial
        gram += more.T @ more
        done = n
        fits = rectified_ridge(xf[:n].reshape(n * per, -1), tf[:n].reshape(-1),
                               OFFLINE_PENALTIES, gram=gram)
        lam = min(fits, key=lambda k: error(fits[k][0], val))
        # heldout[k] scores the weights frozen at the start of the block's trial k, which
        # have learned from k trials of the block: the rule after n trials is heldout[n],
        # averaged over the `smooth` trials centred on it.
        rule = heldout[max(0, n - smooth // 2):n + smooth // 2 + 1]
        points.append({"trials": n, "penalty": lam, "test_error": error(fits[lam][0], tst),
                       "converged": all(c for _, c in fits.values()),
                       "penalty_at_grid_edge": lam in (min(OFFLINE_PENALTIES),
                                                       max(OFFLINE_PENALTIES)),
                       "rule_heldout_error": (float(np.mean(rule))
                                              if np.all(np.isfinite(rule)) else float("nan"))})
    late = heldout[ids.size - test - validation:ids.size - test]
    return {"cue": cue, "block": block, "trials_in_block": int(ids.size), "points": points,
            "rule_late_heldout_error": (float(np.mean(late[np.isfinite(late)]))
                                        if np.any(np.isfinite(late)) else float("nan"))}


def offline_fit_command(args, output, save) -> None:
    import matplotlib.pyplot as plt
    out = output(args, "ww-offline-fit")
    d = offline_fit_curve(args.file, args.block, args.fit_trials, args.validation, args.test)
    print(f"cue {d['cue']}, block {d['block']} ({d['trials_in_block']} trials): rectified "
          f"ridge fitted from scratch to the first n trials, tested on the last {args.test}")
    for p in d["points"]:
        notes = ("" if p["converged"] else ", NOT converged") + (
            ", at the edge of the penalty grid" if p["penalty_at_grid_edge"] else "")
        print(f"n = {p['trials']}: offline fit {p['test_error']:.4g} (penalty {p['penalty']:g}"
              f"{notes}), the run's rule held out {p['rule_heldout_error']:.4g}")
    print(f"the run's rule held out over the validation trials: {d['rule_late_heldout_error']:.4g}")
    fig, ax = plt.subplots(figsize=(7, 4.5))
    n = [p["trials"] for p in d["points"]]
    ax.plot(n, [p["test_error"] for p in d["points"]], "o-", label="offline rectified ridge, "
            "fitted to the first n trials")
    ax.plot(n, [p["rule_heldout_error"] for p in d["points"]], "s--",
            label="the run's rule at trial n (held out)")
    ax.axhline(d["rule_late_heldout_error"], color="0.5", lw=0.8,
               label="the run's rule, late in the block")
    ax.set(xscale="log", xlabel="trials of the block", ylabel="mean squared error")
    ax.legend(fontsize=8)
    ax.set_title(args.title or f"what/when, cue {d['cue']}, block {d['block']}", fontsize=10)
    fig.tight_layout()
    save(fig, args, out)


def spectrum_command(args, output, save) -> None:
    import matplotlib.pyplot as plt
    out = output(args, "ww-spectrum")
    d = feature_spectrum(args.file, args.block)
    eig, cum = d["eigenvalues"], d["cumulative"]
    where = f"block {d['block']}" if d["block"] else "all blocks"
    print(f"cue {d['cue']}, {where}: {d['samples']} samples of {eig.size} features")
    for k in (1, 2, 5, 10, 20, 50, 100):
        if k <= eig.size:
            print(f"top {k} eigenvalues: {100 * cum[k - 1]:.1f} % of the trace")
    for k in (10, 100):
        if k <= eig.size and eig[0] > 0:
            print(f"lambda_{k} / lambda_1 = {eig[k - 1] / eig[0]:.3g}")
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    k = np.arange(1, eig.size + 1)
    a.loglog(k, np.maximum(d["share"], 1e-300), lw=1)
    a.set(xlabel="rank k", ylabel="λk / trace", title="eigenvalues of E[x xᵀ]")
    b.semilogx(k, cum, lw=1)
    b.set(xlabel="rank k", ylabel="share of the trace in the top k", ylim=(0, 1.02))
    fig.suptitle(args.title or f"what/when features, cue {d['cue']} learning samples, {where}",
                 fontsize=10)
    fig.tight_layout()
    save(fig, args, out)


REPLAY_NORMALISATIONS = ("mean", "sample")


def replay_when(x, target, gate, eta0: float, starts, normalise: str = "mean",
                average_trials: float = 1.0) -> np.ndarray:
    """Replays a when readout's learning rule on its recorded learning samples (rows of x in
    learning order; trial k's samples start at row starts[k]) from w = 0, and returns the
    weights the experiment would score for each trial: those at the trial's start (frozen).
    Per sample: y = max(0, w.x), M = (target - y) gate, w += eta M x (models/readout.hpp), with
      normalise "mean":   eta = eta0 / E||x||^2, the running mean of ||x||^2 over the samples
                          so far, this one included (Eq. R1: the run's own rule);
      normalise "sample": eta = eta0 / ||x||^2 (normalised LMS; Haykin, "Adaptive Filter
                          Theory", ch. 6): each sample moves its own output by the same
                          share eta0 of its error, where Eq. R1 moves it by eta0 ||x||^2 / E||x||^2,
                          which for the what/when features is about 4 early in the trial and
                          0.3 late in it (||x||^2 about 1200 in the first 100 ms after the
                          cue, 75 after 1 s, full config).
    average_trials = a > 1 scores an exponential iterate average instead (Polyak-style
    averaging; Polyak & Juditsky 1992, SIAM J. Control Optim. 30:838, average uniformly):
    wbar_0 = w_0 = 0, wbar_k = wbar_(k-1) + (w_k -
    wbar_(k-1)) / a at trial k's start; the rule itself still learns from the output of w.
    a = 1 is the plain rule."""
    if normalise not in REPLAY_NORMALISATIONS:
        raise ValueError(f"normalise: one of {REPLAY_NORMALISATIONS}")
    if not average_trials >= 1:
        raise ValueError("average_trials: expected >= 1")
    n_rows, nf = x.shape
    bounds = list(starts) + [n_rows]
    w = np.zeros(nf)
    wbar = np.zeros(nf)
    scored = np.zeros((len(starts), nf))
    power_sum, count = 0.0, 0
    for k in range(len(starts)):
        if k > 0:
            wbar += (w - wbar) / average_trials
        scored[k] = wbar
        rows = x[bounds[k]:bounds[k + 1]].astype(np.float64)
        for j, xi in enumerate(rows):
            i = bounds[k] + j
            p = float(xi @ xi)
            power_sum += p
            count += 1
            y = max(0.0, float(w @ xi))
            m = (target[i] - y) * gate[i]
            if m == 0.0:
                continue
            eta = eta0 / (power_sum / count) if normalise == "mean" else eta0 / p
            w += (eta * m) * xi
    return scored


def replay_errors(x, expected, t_ms, scored, starts, change: int, bank_trials: int,
                  bank_sample_ms: float, edges_ms=None):
    """Per-trial and held-out errors of replayed weights (replay_when), as the experiment
    scores its own: per trial, the mean squared error of max(0, x.w_k) against the expected
    target over trial k's samples; held out, over the samples every bank_sample_ms of trials
    k .. k + bank_trials - 1 on the same side of the change (bank_range in paradigm.cpp),
    NaN where that bank is not full after the change. On the run's own rule these equal the
    run's /trials err_when and heldout_err_when.
    edges_ms (time since cue, increasing): also where in the trial the per-trial error lies,
    [n_trials, windows], entry (k, j) trial k's squared errors summed over its samples with
    edges_ms[j] <= t_ms < edges_ms[j + 1], divided by the trial's sample count, so a row sums
    to the per-trial error when the windows cover the trial (None without edges_ms)."""
    n = len(starts)
    bounds = list(starts) + [x.shape[0]]
    bank = np.isclose(np.fmod(t_ms, bank_sample_ms), 0.0)
    per, held = np.empty(n), np.full(n, np.nan)
    windows = None if edges_ms is None else np.zeros((n, len(edges_ms) - 1))
    for k in range(n):
        rows = slice(bounds[k], bounds[k + 1])
        sq = _squared_errors(x, expected, scored[k], rows)
        per[k] = np.mean(sq)
        if windows is not None:
            j = np.searchsorted(edges_ms, t_ms[rows], side="right") - 1
            inside = (j >= 0) & (j < windows.shape[1])
            windows[k] = np.bincount(j[inside], sq[inside], minlength=windows.shape[1]) / sq.size
        end = change if k < change else n
        if k >= change and k + bank_trials > n:
            continue
        rows = np.arange(bounds[k], bounds[min(end, k + bank_trials)])
        held[k] = np.mean(_squared_errors(x, expected, scored[k], rows[bank[rows]]))
    return per, held, windows


def _squared_errors(x, expected, w, rows):
    """(max(0, x.w) - expected)^2 on the given sample rows: the scored output's error."""
    return (np.maximum(0.0, x[rows].astype(np.float64) @ w) - expected[rows]) ** 2


def replay_variants(paths: list[str], eta0s, normalisations, averages, steady_trials=None,
                    smooth: int = 5, edges_ms=None) -> dict:
    """The when readout's rule replayed on the recorded learning samples of several runs
    (readout.record_samples_cue), for each combination of step eta0, normalisation and
    iterate average (replay_when), scored as the experiment scores its own (replay_errors),
    with the t90s of recovery_figures on the mean curves over runs and on each run alone.
    The steady error is the variant's own (its last steady_trials trials), not the lowest
    among learners as in the experiment's figures, since only this learner is replayed.
    eta0s None: the runs' own eta0. edges_ms (time since cue, increasing): also the mean over
    runs of each variant's per-trial error by window (replay_errors). The runs must
    share the cue, its schedule and the samples per trial; each run is loaded once (its
    features as float32)."""
    runs, ref = [], None
    curves: dict = {}
    for path in paths:
        run = WhatWhenRun(path)
        with open_h5(run.path) as f:
            g = _learning_samples(f, run.path)
            cue = str(g.attrs["cue"])
            precondition = str(g.attrs.get("precondition", "none"))
            if precondition != "none":
                raise AnalysisInputError(run.path, f"the recorded readout used "
                                         f"precondition_when = {precondition!r}; the replay is "
                                         "Eq. R1 without it", what="/learning_samples")
            own_eta0 = float(g.attrs["eta0"])
            trial = g["trial"][()]
            cols = {k: g[k][()] for k in ("target", "expected", "gate", "t_ms")}
            x = g["x"]
            ids, change = cue_change(run, run.cue_names.index(cue))
            if change is None:
                raise AnalysisInputError(run.path, f"cue {cue} never changes: nothing to adapt to",
                                         what="/trials")
            rows = np.flatnonzero(np.isin(trial, ids))
            starts = np.searchsorted(trial[rows], ids)
            per_trial = np.diff(np.append(starts, rows.size))
            if rows.size == 0 or rows[-1] + 1 != rows.size or np.any(per_trial != per_trial[0]):
                raise AnalysisInputError(run.path, f"the samples of cue {cue}'s trials up to its "
                                         "second change are not the first rows of the "
                                         "recording with equal counts per trial",
                                         what="/learning_samples")
            key = (cue, len(ids), change, int(per_trial[0]), run.bank_trials, run.bank_sample_ms,
                   tuple(run.trials["latency_ms"][ids]), tuple(run.trials["probability"][ids]))
            if ref is None:
                ref, first = key, run.path
                steady = steady_trials or run.steady_trials or 20
                # As the experiment's held-out figures: the steady window after the change
                # must hold trials whose banks are full (change + bank + steady trials).
                after = len(ids) - change
                if steady > change or after < run.bank_trials + steady:
                    raise AnalysisInputError(run.path, f"cue {cue}: the steady error over "
                                             f"{steady} trials needs that many trials before "
                                             f"the change (has {change}) and {steady} + "
                                             f"{run.bank_trials} (the held-out bank) after it "
                                             f"(has {after})", what="/trials")
            elif key != ref:
                raise AnalysisInputError(run.path, f"its recorded cue ({cue}), schedule, "
                                         "samples per trial or held-out bank differ from "
                                         f"those of {first}", what="/learning_samples")
            x = x[:rows.size]
            cols = {k: v[:rows.size] for k, v in cols.items()}
        if steady_trials is None and runs and run.steady_trials != runs[0]["steady_trials"]:
            raise AnalysisInputError(run.path, f"metrics.steady_trials = {run.steady_trials} "
                                     f"differs from {runs[0]['steady_trials']} in "
                                     f"{runs[0]['path']}; choose one with --steady-trials",
                                     what="/run config_toml")
        runs.append({"path": run.path, "eta0": own_eta0, "steady_trials": run.steady_trials})
        for eta0 in (eta0s or [own_eta0]):
            for normalise in normalisations:
                for average in averages:
                    w = replay_when(x, cols["target"], cols["gate"], eta0, starts, normalise,
                                    average)
                    if not np.all(np.isfinite(w)):
                        raise AnalysisInputError(run.path, f"the replay with eta0 {eta0:g}, "
                                                 f"normalise {normalise} diverged (weights "
                                                 "overflowed): choose a smaller step",
                                                 what="--eta0")
                    per, held, windows = replay_errors(
                        x, cols["expected"], cols["t_ms"], w, starts, change, run.bank_trials,
                        run.bank_sample_ms, edges_ms)
                    c = curves.setdefault((eta0 if eta0s else None, normalise, average),
                                          {"per": [], "held": [], "windows": []})
                    c["per"].append(per)
                    c["held"].append(held)
                    c["windows"].append(windows)
    cue, n, change = ref[0], ref[1], ref[2]
    variants = []
    for (eta0, normalise, average), c in curves.items():
        v = {"eta0": eta0, "normalise": normalise, "average_trials": average}
        for tag, stack in (("", c["per"]), ("heldout_", c["held"])):
            e = np.stack(stack)
            # held out: up to the last trial with a full bank (as seed_average)
            end = n if not tag else int(np.flatnonzero(~np.any(np.isnan(e), axis=0))[-1]) + 1
            e = e[:, :end]
            mean = e.mean(axis=0)
            fig = recovery_figures({"three_factor": mean}, change, steady, smooth)["figures"]
            v[tag + "t90"] = fig["t90_three_factor"]
            v[tag + "censored"] = bool(fig["t90_three_factor_censored"])
            v[tag + "steady_error"] = fig["steady_error"]
            v[tag + "pre_change_error"] = float(np.mean(mean[change - steady:change]))
            singles = [recovery_figures({"three_factor": r}, change, steady, smooth)["figures"]
                       for r in e]
            v[tag + "run_t90s"] = [f["t90_three_factor"] for f in singles]
            v[tag + "run_censored"] = [bool(f["t90_three_factor_censored"]) for f in singles]
            v[tag + "curve"] = mean
        if edges_ms is not None:
            v["window_edges_ms"] = list(edges_ms)
            v["window_error"] = np.mean(c["windows"], axis=0)
        variants.append(v)
    return {"cue": cue, "runs": [r["path"] for r in runs], "change": change,
            "steady_trials": steady, "variants": variants,
            "own_eta0": sorted({r["eta0"] for r in runs})}


def window_table(window_error: np.ndarray, edges_ms, change: int, steady: int,
                 smooth: int = 5) -> str:
    """A table of window errors (replay_errors, mean over runs): the mean of the last
    `steady` trials before the change, then `smooth`-trial means from 0, 10, 20, 30, 40, 60,
    100 and 150 trials after it (those that fit), then the last `steady` trials."""
    n = window_error.shape[0]
    rows = [("before", window_error[change - steady:change].mean(axis=0))]
    for at in (0, 10, 20, 30, 40, 60, 100, 150):
        if change + at + smooth <= n - steady:
            rows.append((f"+{at}", window_error[change + at:change + at + smooth].mean(axis=0)))
    rows.append((f"last {steady}", window_error[n - steady:].mean(axis=0)))
    head = [f"{a:g}-{b:g}" for a, b in zip(edges_ms[:-1], edges_ms[1:])]
    lines = ["  trials    " + " ".join(f"{h:>9}" for h in head) + "      sum"]
    lines += [f"  {name:<9} " + " ".join(f"{e:9.4f}" for e in err) + f" {err.sum():8.4f}"
              for name, err in rows]
    return "\n".join(lines)


def _eta_label(v: dict) -> str:
    """A replayed variant's step as printed: "own" for the runs' own eta0."""
    return "own" if v["eta0"] is None else f"{v['eta0']:g}"


def _variant_label(v: dict) -> str:
    return f"eta0 {_eta_label(v)}, {v['normalise']}, avg {v['average_trials']:g}"


def replay_command(args, output, save) -> None:
    import json
    import matplotlib.pyplot as plt
    paths = expand_runs(args.runs)
    d = replay_variants(paths, args.eta0, args.normalise, args.average_trials, args.steady_trials,
                        edges_ms=args.time_windows)
    args.file = args.runs[0]
    out = output(args, "ww-replay")
    print(f"cue {d['cue']}, {len(d['runs'])} runs, change after {d['change']} trials; the runs' "
          f"own eta0: {', '.join(f'{e:g}' for e in d['own_eta0'])}; t90 on the mean curve "
          f"(steady = the variant's own last {d['steady_trials']} trials), then each run's")
    for v in d["variants"]:
        line = f"eta0 {_eta_label(v)}, normalise {v['normalise']}, average {v['average_trials']:g} trials:"
        for tag, label in (("", "per trial"), ("heldout_", "held out")):
            more = "+" if v[tag + "censored"] else ""
            line += (f" {label} t90 {v[tag + 't90']:.0f}{more} (steady "
                     f"{v[tag + 'steady_error']:.4f}, pre-change {v[tag + 'pre_change_error']:.4f};"
                     f" runs {', '.join(f'{t:.0f}' + ('+' if c else '') for t, c in zip(v[tag + 'run_t90s'], v[tag + 'run_censored']))})")
            line += ";" if not tag else ""
        print(line)
        if "window_error" in v:
            print(window_table(v["window_error"], v["window_edges_ms"], d["change"],
                               d["steady_trials"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({k: v for k, v in d.items() if k != "variants"} | {"variants": [
                {k: (x.tolist() if isinstance(x, np.ndarray) else x) for k, x in v.items()}
                for v in d["variants"]]}, f, indent=1)
    windows = args.time_windows is not None
    fig, axes = plt.subplots(1, 3 if windows else 2, figsize=(19 if windows else 13, 4.5))
    ch = d["change"]
    for ax, tag, label in ((axes[0], "", "MSE per trial"), (axes[1], "heldout_", "held-out MSE")):
        for v in d["variants"]:
            m = v[tag + "curve"]
            ax.plot(np.arange(len(m) - ch), smoothed_since(m, ch), label=_variant_label(v))
        ax.set(yscale="log", xlabel=f"trials of cue {d['cue']} since the change",
               ylabel=f"{label}, mean of {len(d['runs'])} runs")
        ax.legend(fontsize=7)
    if windows:
        v, ax = d["variants"][0], axes[2]
        edges = v["window_edges_ms"]
        for j in range(len(edges) - 1):
            ax.plot(np.arange(len(v["curve"]) - ch), smoothed_since(v["window_error"][:, j], ch),
                    label=f"{edges[j]:g}-{edges[j + 1]:g} ms")
        ax.set(xlabel=f"trials of cue {d['cue']} since the change",
               ylabel="share of the MSE per trial", title=f"by time since cue ({_variant_label(v)})")
        ax.legend(fontsize=7)
    fig.suptitle(args.title or f"what/when, cue {d['cue']}: the rule replayed on recorded "
                 "learning samples", fontsize=10)
    fig.tight_layout()
    save(fig, args, out)


# --------------------------------------------------------------------------- commands

def add_parsers(sub, add_common, positive_int) -> None:
    def common(name, help_text):
        p = sub.add_parser(name, help=help_text, description=help_text)
        add_common(p, window=False, pops=False)
        p.add_argument("--last", type=positive_int, default=100,
                       help="trials per condition averaged (the last ones; default 100)")
        return p

    p = sub.add_parser("ww-seeds", help="what/when: adaptation and timing figures on the "
                       "mean of several runs (seeds)",
                       description="The experiment's per-trial adaptation t90s (own and "
                       "common criterion) and timing peaks of one cue, on the mean over "
                       "runs that share its schedule (e.g. network and schedule seeds).")
    def multi_run(p, name):
        """The positional runs and the output options of the commands over several runs."""
        p.add_argument("runs", nargs="+", metavar="RUN", help="run folders, spike files or "
                       "sweep folders (their points with status done)")
        p.add_argument("--steady-trials", type=positive_int, help="trials of the steady error "
                       "(default: the runs' metrics.steady_trials)")
        p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
        p.add_argument("-o", "--output", metavar="OUT", help="figure file (default: "
                       f"<first run>_{name}.png)")
        p.add_argument("--dpi", type=int, default=150)
        p.add_argument("--title")

    multi_run(p, "ww-seeds")
    p.add_argument("--cue", help="cue (default: the runs' metrics.adaptation_cue); another "
                   "cue's figures are named as the experiment names them, e.g. "
                   "adaptation_C_p80_to_p20_t90_three_factor (amplitude t90s are not computed)")
    p.add_argument("--last", type=positive_int, help="trials per condition for the timing peak "
                   "(default: the runs' metrics.snapshot_trials)")

    p = sub.add_parser("ww-spectrum", help="what/when: eigenvalues of the features' second "
                       "moments over a run's recorded learning samples",
                       description="Eigenvalues of E[x xᵀ] over the learning samples a run "
                       "recorded (readout.record_samples_cue), as shares of the trace.")
    add_common(p, window=False, pops=False)
    p.add_argument("--block", help="only the samples of this block's trials (default: all)")

    p = sub.add_parser("ww-offline-fit", help="what/when: a readout fitted offline to a block's "
                       "first n trials of the recorded learning samples, beside the run's rule",
                       description="How well a rectified ridge readout fitted from scratch to "
                       "the first n trials of a block does on the block's last trials (penalty "
                       "chosen on the trials before them), beside the run's own rule at trial n; "
                       "needs readout.record_samples_cue.")
    add_common(p, window=False, pops=False)
    p.add_argument("--block", required=True, help="the block (e.g. the one after a change)")
    p.add_argument("--fit-trials", type=lambda t: sorted({positive_int(v) for v in t.split(",")}),
                   default=[5, 10, 20, 30, 40, 60, 100], metavar="N,N,...",
                   help="numbers of trials to fit (default 5,10,20,30,40,60,100)")
    p.add_argument("--validation", type=positive_int, default=25,
                   help="trials that choose the penalty (default 25)")
    p.add_argument("--test", type=positive_int, default=25,
                   help="last trials of the block that score the fits (default 25)")

    p = sub.add_parser("ww-replay", help="what/when: the when readout's rule replayed on "
                       "recorded learning samples, with other steps, normalisations or "
                       "weight averaging",
                       description="Replays the three-factor rule of the recorded cue's when "
                       "readout on the learning samples of one or more runs (readout."
                       "record_samples_cue) and prints the adaptation t90s per trial and held "
                       "out on the mean curve and per run, for every combination of the "
                       "options. With the defaults it gives back the runs' own errors.")
    multi_run(p, "ww-replay")
    def floats(text, ok, expected):
        try:
            values = [float(t) for t in text.split(",")]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}")
        if not all(np.isfinite(v) and ok(v) for v in values):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return list(dict.fromkeys(values))  # each value once, in the order given
    p.add_argument("--eta0", type=lambda t: floats(t, lambda v: 0 < v < 2, "steps 0 < eta0 < 2 "
                                                  "(Eq. R1's bound for stability in the mean)"),
                   metavar="E,E,...", help="steps eta0 (default: the runs' own)")
    def normalisations(text):
        values = text.split(",")
        if not all(v in REPLAY_NORMALISATIONS for v in values):
            raise argparse.ArgumentTypeError(f"expected a list of "
                                             f"{', '.join(REPLAY_NORMALISATIONS)}, got {text!r}")
        return list(dict.fromkeys(values))
    p.add_argument("--normalise", type=normalisations,
                   default=["mean"], metavar="N,N,...", help="mean: eta0 / E||x||^2 (Eq. R1, "
                   "the run's rule); sample: eta0 / ||x||^2 (normalised LMS); default mean")
    p.add_argument("--average-trials", type=lambda t: floats(t, lambda v: v >= 1, "numbers >= 1"),
                   default=[1.0],
                   metavar="A,A,...", help="score an exponential average of the weights over "
                   "about A trials (default 1: the weights themselves)")
    def edges(text):
        values = floats(text, lambda v: v >= 0, "times since cue >= 0 ms")
        if len(values) < 2 or len(values) != len(text.split(",")) or values != sorted(values):
            raise argparse.ArgumentTypeError(f"expected at least two increasing times, got {text!r}")
        return values
    p.add_argument("--time-windows", type=edges, metavar="MS,MS,...", help="also split each "
                   "variant's per-trial error by time since cue at these edges (ms), printed "
                   "before and after the change and drawn for the first variant")

    p = common("ww-readout", "what/when: readout vs time since cue per condition (mean ± s.d.)")
    p.add_argument("--readout", default="when", help="when, what_<outcome>, force_noreset, "
                   "force_reset (default when)")
    common("ww-probability", "what/when: peak amplitude vs outcome probability")
    common("ww-learning", "what/when: learning curves of the FORCE cue with change points")
    common("ww-clock", "what/when: the offline clock decoder's error against time since cue")
    for name, text in (("ww-angle", "what/when: what/when weight angle with a shuffled null"),
                       ("ww-summary", "what/when: one-page summary")):
        p = common(name, text)
        p.add_argument("--cue", help="cue of the when readout (default: the run's metrics.angle_cue)")
        p.add_argument("--outcome", help="outcome of the what readout (default: the run's "
                       "metrics.angle_outcome)")
        p.add_argument("--other", help="a second run (another seed) for the across-seed angle")


def summary_metric(key: str) -> bool:
    """Metrics listed on the summary page: the headline figures (all of them stay in
    /metrics). Left out: timing details other than peak and band, censoring flags, the
    adaptation levels behind each t90, the common-criterion t90s (their ratios are listed),
    run bookkeeping."""
    if key.startswith("timing_"):
        return key.endswith(("peak_ms", "in_band"))
    if key.startswith("adaptation_"):
        return (("t90" in key or "ratio" in key) and not key.endswith("_censored")
                and "amplitude_ratio" not in key and "common_t90" not in key)
    return not key.startswith(("clock_ridge", "clock_test", "angle_null", "amplitude_"))


def run_command(args, output, save) -> None:
    import matplotlib.pyplot as plt
    name = args.command
    if name == "ww-seeds":
        return seeds_command(args, output, save)
    if name == "ww-spectrum":
        return spectrum_command(args, output, save)
    if name == "ww-offline-fit":
        return offline_fit_command(args, output, save)
    if name == "ww-replay":
        return replay_command(args, output, save)
    out = output(args, name)
    run = WhatWhenRun(args.file)
    cue = getattr(args, "cue", None) or run.angle_cue or run.cue_names[0]
    outcome = getattr(args, "outcome", None) or run.angle_outcome or run.outcome_names[0]
    other = WhatWhenRun(args.other) if getattr(args, "other", None) else None
    if name == "ww-summary":
        fig, axes = plt.subplots(2, 4, figsize=(20, 8))
        panel_readout(axes[0, 0], run, "when", args.last)
        panel_probability(axes[0, 1], run, args.last)
        panel_learning(axes[1, 0], run)
        panel_angle(axes[1, 1], run, cue, outcome, other)
        what = f"what_{outcome}"
        panel_readout(axes[0, 2], run, what, args.last)
        panel_clock(axes[0, 3], run)
        axes[1, 3].axis("off")
        axes[1, 2].axis("off")
        keys = [k for k in run.metrics if summary_metric(k)]
        axes[1, 2].text(0, 1, "\n".join(f"{k} = {run.metrics[k]:.4g}" for k in keys),
                        va="top", family="monospace", fontsize=5.5,
                        transform=axes[1, 2].transAxes)
        fig.suptitle(args.title or "what/when summary", fontsize=10)
        fig.tight_layout()
    else:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        if name == "ww-readout":
            panel_readout(ax, run, args.readout, args.last)
        elif name == "ww-probability":
            panel_probability(ax, run, args.last)
        elif name == "ww-learning":
            panel_learning(ax, run)
        elif name == "ww-clock":
            if run.clock is None:
                raise AnalysisInputError(run.path, "no clock check in this file (a run that "
                                         "stopped early, fewer than 9 clock trials, or an "
                                         "older snnsim)", what="/clock")
            panel_clock(ax, run)
            c = run.clock
            print(f"clock decoder, {int(c['test_trials'])} test trials: "
                  + ", ".join(f"{t:.0f} ms: {m:.1f} ms" for t, m in zip(c["t_ms"], c["mae_ms"])
                              if t in CLOCK_TARGETS_MS or t == c["t_ms"][-1]))
        else:
            d = panel_angle(ax, run, cue, outcome, other)
            print(f"angle {d['angle']:.2f} deg, null 95% "
                  f"[{np.quantile(d['null'], 0.025):.2f}, {np.quantile(d['null'], 0.975):.2f}]"
                  + "".join(f", {k} {d[k]:.2f}" for k in ("across_when", "across_what") if k in d))
        if args.title:
            ax.set_title(args.title)
    save(fig, args, out)


COMMANDS = ("ww-readout", "ww-probability", "ww-learning", "ww-clock", "ww-angle", "ww-summary", "ww-seeds",
            "ww-spectrum", "ww-offline-fit", "ww-replay")
