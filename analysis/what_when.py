"""Figures of the what/when experiment (``[experiment] type = "what_when"``).

Reads the result groups the experiment writes next to the spikes: ``/trials``,
``/readouts`` (per-trial outputs aligned to the cue, computed with the weights frozen at
trial start), ``/weights/<block>/...`` and ``/metrics``. Subcommands (registered in
``analysis/cli.py``): ``ww-readout``, ``ww-probability``, ``ww-learning``, ``ww-angle``,
``ww-summary``.
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
            self.angle_cue = self.angle_outcome = None
            if "run" in f and "config_toml" in f["run"].attrs:
                import tomllib
                text = f["run"].attrs["config_toml"]
                text = text.decode() if isinstance(text, bytes) else str(text)
                metrics_cfg = tomllib.loads(text).get("metrics", {})
                self.angle_cue = metrics_cfg.get("angle_cue")
                self.angle_outcome = metrics_cfg.get("angle_outcome")
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


# --------------------------------------------------------------------------- commands

def add_parsers(sub, add_common) -> None:
    def common(name, help_text):
        p = sub.add_parser(name, help=help_text, description=help_text)
        add_common(p, window=False, pops=False)
        p.add_argument("--last", type=int, default=100,
                       help="trials per condition averaged (the last ones; default 100)")
        return p

    p = common("ww-readout", "what/when: readout vs time since cue per condition (mean ± s.d.)")
    p.add_argument("--readout", default="when", help="when, what_<outcome>, force_noreset, "
                   "force_reset (default when)")
    common("ww-probability", "what/when: peak amplitude vs outcome probability")
    common("ww-learning", "what/when: learning curves of the FORCE cue with change points")
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
    adaptation levels behind each t90, run bookkeeping."""
    if key.startswith("timing_"):
        return key.endswith(("peak_ms", "in_band"))
    if key.startswith("adaptation_"):
        return (("t90" in key or "ratio" in key) and not key.endswith("_censored")
                and "amplitude_ratio" not in key)
    return not key.startswith(("clock_ridge", "clock_test", "angle_null", "amplitude_"))


def run_command(args, output, save) -> None:
    import matplotlib.pyplot as plt
    name = args.command
    out = output(args, name)
    run = WhatWhenRun(args.file)
    cue = getattr(args, "cue", None) or run.angle_cue or run.cue_names[0]
    outcome = getattr(args, "outcome", None) or run.angle_outcome or run.outcome_names[0]
    other = WhatWhenRun(args.other) if getattr(args, "other", None) else None
    if name == "ww-summary":
        fig, axes = plt.subplots(2, 3, figsize=(15, 8))
        panel_readout(axes[0, 0], run, "when", args.last)
        panel_probability(axes[0, 1], run, args.last)
        panel_learning(axes[1, 0], run)
        panel_angle(axes[1, 1], run, cue, outcome, other)
        what = f"what_{outcome}"
        panel_readout(axes[0, 2], run, what, args.last)
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
        else:
            d = panel_angle(ax, run, cue, outcome, other)
            print(f"angle {d['angle']:.2f} deg, null 95% "
                  f"[{np.quantile(d['null'], 0.025):.2f}, {np.quantile(d['null'], 0.975):.2f}]"
                  + "".join(f", {k} {d[k]:.2f}" for k in ("across_when", "across_what") if k in d))
        if args.title:
            ax.set_title(args.title)
    save(fig, args, out)


COMMANDS = ("ww-readout", "ww-probability", "ww-learning", "ww-angle", "ww-summary")
