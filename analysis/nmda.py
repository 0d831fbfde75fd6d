"""NMDA-threshold study figures from a sweep folder (``snnsim sweep
experiments/nmda_threshold.toml``): empirical and theoretical error rates of dendritic
segments against θ (Ahmad & Hawkins 2016, arXiv 1601.00720, Fig. 4), the range of θ where
both errors are below chosen levels, and the spiking sequence's prediction precision and
recall against θ.

Each point's /metrics (collected by the sweep runner as ``metric.*`` columns) holds
fp_rate, fp_lo, fp_hi (95 % Wilson interval), fp_theory and the same for fn, plus
seq_precision and seq_recall. The other swept parameters (n, a, s, v, M) split the points
into curves: one curve per combination of their values. Repeats of a (curve, θ) pair are
averaged (their intervals: the smallest lower and the largest upper limit).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .errors import AnalysisInputError
from .io import SweepIndex

THETA = "nmda.theta"


def _short(column: str) -> str:
    name = column.split(".", 1)[1] if column.startswith("param.") else column
    return name.split(".")[-1]


def curves(index: SweepIndex, metrics: list[str], theta: str = THETA) -> dict:
    """Per curve (a tuple of (parameter, value) for the other swept parameters): θ sorted
    ascending and, per metric, the mean over the points with that θ. Only "done" points."""
    theta_col = index.resolve(theta)
    done = index.done()
    others = [p for p in index.params if p != theta_col]
    columns = {m: np.asarray(index.column(m), dtype=float) for m in metrics}
    thetas = np.asarray(index.columns[theta_col], dtype=float)
    groups: dict[tuple, dict] = {}
    for i in np.flatnonzero(done):
        key = tuple((_short(p), index.columns[p][i].item()
                     if hasattr(index.columns[p][i], "item") else index.columns[p][i])
                    for p in others)
        groups.setdefault(key, {}).setdefault(float(thetas[i]), []).append(i)
    out = {}
    for key, by_theta in sorted(groups.items(), key=lambda kv: str(kv[0])):
        th = np.array(sorted(by_theta))
        series = {"theta": th}
        for m in metrics:
            reduce = (np.nanmin if m.endswith("_lo") else np.nanmax if m.endswith("_hi")
                      else np.nanmean)
            values = []
            for t in th:
                v = columns[m][by_theta[t]]
                values.append(reduce(v) if np.any(np.isfinite(v)) else np.nan)
            series[m] = np.array(values)
        out[key] = series
    return out


def good_theta(theta: np.ndarray, fp: np.ndarray, fn: np.ndarray, fp_max: float,
               fn_max: float) -> np.ndarray:
    """The θ values where fp <= fp_max and fn <= fn_max (NaN counts as not good)."""
    theta, fp, fn = (np.asarray(x, dtype=float) for x in (theta, fp, fn))
    ok = (fp <= fp_max) & (fn <= fn_max)
    return theta[ok]


def _label(key: tuple) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}"
                     for k, v in key) or "all points"


def plot_errors(index: SweepIndex, fp_max: float = 1e-3, fn_max: float = 1e-3,
                theta: str = THETA, title: str | None = None, source: str = "theory"):
    """FP and FN rates against θ on a log scale: theory as lines, Monte Carlo as points
    with 95 % intervals (rates of 0 are drawn as 'v' markers at the interval's upper
    limit). Per curve, the θ values where both errors are <= the levels are shaded; they
    are judged on the theory values (source="theory") or on the intervals' upper limits
    (source="empirical", conservative)."""
    if source not in ("theory", "empirical"):
        raise AnalysisInputError(None, f"unknown source '{source}' (theory or empirical)")
    names = [f"{e}_{k}" for e in ("fp", "fn") for k in ("rate", "lo", "hi", "theory")]
    data = {"curves": curves(index, names, theta), "fp_max": fp_max, "fn_max": fn_max,
            "good": {}}
    if not data["curves"]:
        raise AnalysisInputError(index.folder, "no finished point to plot", what="sweep index")
    fig = Figure(figsize=(8, 5))
    ax = fig.add_subplot()
    from matplotlib import colormaps
    cmap = colormaps["tab10"]
    for k, (key, s) in enumerate(data["curves"].items()):
        color = cmap(k % 10)
        th = s["theta"]
        which = "theory" if source == "theory" else "hi"
        good = good_theta(th, s[f"fp_{which}"], s[f"fn_{which}"], fp_max, fn_max)
        data["good"][key] = good
        if good.size:
            ax.axvspan(good.min() - 0.5, good.max() + 0.5, color=color, alpha=0.08, lw=0)
        floor = 1e-300
        for err, style in (("fp", "-"), ("fn", "--")):
            theory = np.where(s[f"{err}_theory"] > 0, s[f"{err}_theory"], np.nan)
            ax.plot(th, theory, style, color=color,
                    label=f"{err.upper()} theory, {_label(key)}")
            rate, lo, hi = s[f"{err}_rate"], s[f"{err}_lo"], s[f"{err}_hi"]
            pos = rate > 0
            yerr = [np.maximum(rate[pos] - np.maximum(lo[pos], floor), 0.0),
                    np.maximum(hi[pos] - rate[pos], 0.0)]
            ax.errorbar(th[pos], rate[pos], yerr=yerr,
                        fmt="o" if err == "fp" else "s", color=color, ms=4, capsize=2)
            ax.plot(th[~pos], hi[~pos], "v", color=color, ms=4)
    ax.set_yscale("log")
    # Theory goes down to 1e-40 and beyond; below 1e-12 nothing is measurable.
    ax.set_ylim(bottom=max(ax.get_ylim()[0], 1e-12))
    ax.axhline(fp_max, color="0.5", lw=0.7, ls=":")
    if fn_max != fp_max:
        ax.axhline(fn_max, color="0.5", lw=0.7, ls="-.")
    ax.set_xlabel("NMDA threshold θ (synapses)")
    ax.set_ylabel("error probability")
    ax.set_title(title or f"segment errors vs θ (shaded: FP <= {fp_max:g} and FN <= "
                 f"{fn_max:g}, {source}; v: 0 events, upper 95 % limit)", fontsize="small")
    ax.legend(fontsize="xx-small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig, data


def plot_sequence(index: SweepIndex, theta: str = THETA, title: str | None = None):
    """Prediction precision and recall of the spiking sequence experiment against θ."""
    data = {"curves": curves(index, ["seq_precision", "seq_recall"], theta)}
    if not data["curves"]:
        raise AnalysisInputError(index.folder, "no finished point to plot", what="sweep index")
    fig = Figure(figsize=(8, 4.5))
    ax = fig.add_subplot()
    from matplotlib import colormaps
    cmap = colormaps["tab10"]
    for k, (key, s) in enumerate(data["curves"].items()):
        color = cmap(k % 10)
        ax.plot(s["theta"], s["seq_precision"], "o-", color=color,
                label=f"precision, {_label(key)}")
        ax.plot(s["theta"], s["seq_recall"], "s--", color=color, label=f"recall, {_label(key)}")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("NMDA threshold θ (synapses)")
    ax.set_ylabel("next-pattern prediction")
    ax.set_title(title or "spiking sequence: predicted cells vs the next pattern's cells")
    ax.legend(fontsize="xx-small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig, data
