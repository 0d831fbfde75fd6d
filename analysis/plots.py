"""Figures. Each ``plot_*`` returns (figure, data): data holds the numbers drawn, so they
can be checked without looking at pixels. Figures are built with matplotlib's
object-oriented API (no pyplot, no global state, no display needed) and written with
``save_figure``.
"""

from __future__ import annotations

import math
import os
from typing import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from . import stats
from .errors import AnalysisInputError
from .io import Spikes, SweepIndex, Traces

FORMATS = ("png", "pdf", "svg")


def _colors(n: int) -> list:
    from matplotlib import colormaps
    cmap = colormaps["tab10"]
    return [cmap(k % 10) for k in range(n)]


def check_output(path: str | os.PathLike) -> str:
    """The output path, checked before any work: a known extension and a folder that
    exists."""
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in FORMATS:
        raise AnalysisInputError(path, f"unknown figure format '.{ext}' (use "
                                 f"{', '.join('.' + f for f in FORMATS)})")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise AnalysisInputError(path, f"output folder {folder} does not exist")
    return path


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 150) -> str:
    path = check_output(path)
    try:
        fig.savefig(path, dpi=dpi, bbox_inches="tight")
    except OSError as e:
        raise AnalysisInputError(path, f"cannot write figure: {e}") from None
    return path


def _window_label(spikes: Mapping) -> str:
    s = next(iter(spikes.values()))
    return f"[{s.t_start_ms:g}, {s.t_stop_ms:g}) ms"


# --------------------------------------------------------------------------- raster

def choose_neurons(n_neurons: int, k: int) -> np.ndarray:
    """k evenly spread ids out of n (all of them when k >= n): floor(j * n / k)."""
    if k >= n_neurons:
        return np.arange(n_neurons, dtype=np.int64)
    return (np.arange(k, dtype=np.int64) * n_neurons) // k


def choose_raster_neurons(sizes: Mapping[str, int], max_neurons: int) -> dict[str, np.ndarray]:
    """Neurons shown per population: all if the network has at most max_neurons, else a
    share of max_neurons proportional to population size (at least one each)."""
    total = sum(sizes.values())
    if total <= max_neurons:
        return {p: np.arange(n, dtype=np.int64) for p, n in sizes.items()}
    return {p: choose_neurons(n, max(1, int(max_neurons * n // total)) if n else 0)
            for p, n in sizes.items()}


def _rank_in(ids: np.ndarray, node_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each spike's node id: whether it is in the sorted `ids`, and its rank there."""
    rank = np.searchsorted(ids, node_ids)
    keep = np.zeros(node_ids.size, bool)
    if ids.size:
        keep = ids[np.minimum(rank, ids.size - 1)] == node_ids
    return keep, rank


def raster_data(spikes: Mapping[str, Spikes],
                shown: Mapping[str, np.ndarray] | None = None) -> dict:
    """Per population: times, rows (y), row offset and the ids shown. Populations are
    stacked in order, the first at the bottom; row = offset + rank of the id among the
    shown ids."""
    data, offset = {}, 0
    for pop, s in spikes.items():
        ids = np.arange(s.n_neurons) if shown is None else np.asarray(shown[pop])
        keep, rank = _rank_in(ids, s.node_ids)
        data[pop] = {"times_ms": s.times_ms[keep], "rows": offset + rank[keep],
                     "node_ids": ids, "row_offset": offset, "n_neurons": s.n_neurons}
        offset += ids.size
    return data


def split_by_groups(spikes: Mapping[str, Spikes], population: str,
                    groups: Mapping[str, np.ndarray]) -> dict[str, Spikes]:
    """`population` split into one band per group of node ids (e.g. the cells each cue
    drives), then the cells in no group (if any), each band's ids renumbered 0..k-1 in id order;
    the other populations as they are. A cell in two groups is shown in both."""
    out: dict[str, Spikes] = {}
    for pop, s in spikes.items():
        if pop != population:
            out[pop] = s
            continue
        grouped = np.zeros(s.n_neurons, bool)
        bands = []
        for name, ids in groups.items():
            ids = np.unique(np.asarray(ids, dtype=np.int64))
            grouped[ids] = True
            bands.append((f"{pop}: {name}", ids))
        if not grouped.all():
            bands.append((f"{pop}: other", np.flatnonzero(~grouped)))
        for label, ids in bands:
            keep, rank = _rank_in(ids, s.node_ids)
            out[label] = Spikes(label, s.times_ms[keep], rank[keep].astype(np.int64),
                                int(ids.size), s.t_start_ms, s.t_stop_ms)
    return out


def plot_raster(spikes: Mapping[str, Spikes], max_neurons: int = 2000,
                marker_size: float = 2.0, title: str | None = None):
    sizes = {p: s.n_neurons for p, s in spikes.items()}
    data = raster_data(spikes, choose_raster_neurons(sizes, max_neurons))
    fig = Figure(figsize=(10, 5))
    ax = fig.add_subplot()
    many = sum(d["times_ms"].size for d in data.values()) > 20000
    for color, (pop, d) in zip(_colors(len(data)), data.items()):
        shown = d["node_ids"].size
        label = pop if shown == d["n_neurons"] else f"{pop} ({shown} of {d['n_neurons']})"
        ax.scatter(d["times_ms"], d["rows"], s=marker_size, marker=".", linewidths=0,
                   color=color, label=label, rasterized=many)
    s0 = next(iter(spikes.values()))
    ax.set_xlim(s0.t_start_ms, s0.t_stop_ms)
    ax.set_ylim(-0.5, max(sum(d["node_ids"].size for d in data.values()), 1) - 0.5)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("neuron (stacked by population)")
    ax.set_title(title or f"Spike raster {_window_label(spikes)}")
    ax.legend(loc="upper right", markerscale=4, fontsize="small")
    return fig, data


# --------------------------------------------------------------------------- rate, spectrum

def _counts(source, bin_ms: float) -> stats.Counts:
    if isinstance(source, stats.Counts):
        if not math.isclose(source.bin_ms, bin_ms):
            raise ValueError(f"counts were binned at {source.bin_ms} ms, not {bin_ms} ms")
        return source
    return stats.count_spikes(source, bin_ms)


def rate_data(spikes: Mapping[str, Spikes | stats.Counts], bin_ms: float = 1.0,
              smooth_ms: float = 0.0, segment_ms: float = 1000.0) -> dict:
    """Per population: bin edges, rate (smoothed if asked), Welch spectrum of the
    unsmoothed rate (smoothing would filter out gamma) and the alpha and gamma peaks.
    Values may be Spikes or streamed stats.Counts binned at bin_ms."""
    data = {}
    for pop, source in spikes.items():
        c = _counts(source, bin_ms)
        raw = c.rate_hz
        freqs, psd = stats.rate_spectrum(raw, bin_ms, segment_ms)
        peaks = {band: stats.band_peak(freqs, psd, lims) for band, lims in stats.BANDS_HZ.items()}
        data[pop] = {"edges_ms": c.edges_ms,
                     "rate_hz": stats.gaussian_smooth(raw, smooth_ms / bin_ms),
                     "freqs_hz": freqs, "psd": psd, "peaks": peaks}
    return data


def plot_rate(spikes: Mapping[str, Spikes | stats.Counts], bin_ms: float = 1.0,
              smooth_ms: float = 0.0,
              segment_ms: float = 1000.0, max_freq_hz: float = 100.0,
              spectrum: bool = True, title: str | None = None):
    """Population rate over time and (below) its Welch power spectrum with the alpha and
    gamma bands shaded."""
    data = rate_data(spikes, bin_ms, smooth_ms, segment_ms)
    fig = Figure(figsize=(10, 7 if spectrum else 4))
    axes = fig.subplots(2 if spectrum else 1, 1, squeeze=False)[:, 0]
    for color, (pop, d) in zip(_colors(len(data)), data.items()):
        centers = 0.5 * (d["edges_ms"][1:] + d["edges_ms"][:-1])
        axes[0].plot(centers, d["rate_hz"], color=color, lw=0.8, label=pop)
        if spectrum and d["freqs_hz"].size:
            keep = d["freqs_hz"] <= max_freq_hz
            axes[1].semilogy(d["freqs_hz"][keep], np.maximum(d["psd"][keep], 1e-12),
                             color=color, label=pop)
    axes[0].set_xlabel("time (ms)")
    axes[0].set_ylabel(f"rate (Hz per neuron, {bin_ms:g} ms bins)")
    axes[0].set_title(title or f"Population rate {_window_label(spikes)}")
    axes[0].legend(loc="upper right", fontsize="small")
    if spectrum:
        for band, (lo, hi) in stats.BANDS_HZ.items():
            axes[1].axvspan(lo, min(hi, max_freq_hz), alpha=0.12, color="grey")
            axes[1].text(0.5 * (lo + min(hi, max_freq_hz)), 1.0, band, ha="center", va="top",
                         transform=axes[1].get_xaxis_transform(), fontsize="small")
        axes[1].set_xlim(0, max_freq_hz)
        axes[1].set_xlabel("frequency (Hz)")
        axes[1].set_ylabel("power (Hz²/Hz)")
        axes[1].set_title("Power spectrum of the population rate (Welch)")
    fig.tight_layout()
    return fig, data


# --------------------------------------------------------------------------- rate histogram

def rate_histogram_data(spikes: Mapping[str, Spikes | stats.Counts], bins: int = 30) -> dict:
    """Per-neuron rates and their histogram, on edges shared by all populations."""
    rates = {p: s.neuron_rates_hz if isinstance(s, stats.Counts) else stats.firing_rates(s)
             for p, s in spikes.items()}
    top = max((float(r.max()) for r in rates.values() if r.size), default=0.0)
    edges = np.linspace(0.0, top if top > 0 else 1.0, bins + 1)
    return {p: {"rates_hz": r, "edges_hz": edges, "counts": np.histogram(r, edges)[0]}
            for p, r in rates.items()}


def plot_rate_histogram(spikes: Mapping[str, Spikes | stats.Counts], bins: int = 30,
                        title: str | None = None):
    data = rate_histogram_data(spikes, bins)
    fig = Figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    for color, (pop, d) in zip(_colors(len(data)), data.items()):
        ax.stairs(d["counts"], d["edges_hz"], color=color, lw=1.5,
                  label=f"{pop} (mean {d['rates_hz'].mean():.3g} Hz)")
    ax.set_xlabel("firing rate (Hz)")
    ax.set_ylabel("neurons")
    ax.set_title(title or f"Firing-rate distribution {_window_label(spikes)}")
    ax.legend(fontsize="small")
    return fig, data


# --------------------------------------------------------------------------- ISI and CV

def isi_cv_data(spikes: Mapping[str, Spikes], isi_bins: int = 50,
                isi_max_ms: float | None = None, cv_bins: int = 30,
                min_spikes: int = 3) -> dict:
    """In memory; stats.isi_cv_streamed gives the same numbers (without ``isis_ms``)
    chunk by chunk from a file."""
    isis = {p: stats.isi_intervals(s.times_ms, s.node_ids) for p, s in spikes.items()}
    top = isi_max_ms or max((float(x.max()) for x in isis.values() if x.size), default=1.0)
    isi_edges = np.linspace(0.0, top, isi_bins + 1)
    cvs = {p: stats.cv_isi(s.times_ms, s.node_ids, s.n_neurons, min_spikes)
           for p, s in spikes.items()}
    data = stats.isi_cv_histograms(lambda p, edges: np.histogram(isis[p], edges)[0], cvs,
                                   isi_edges, cv_bins)
    for p in data:
        data[p]["isis_ms"] = isis[p]
    return data


def plot_isi_cv(spikes: Mapping[str, Spikes], isi_bins: int = 50,
                isi_max_ms: float | None = None, cv_bins: int = 30, min_spikes: int = 3,
                title: str | None = None):
    """ISI distribution (left) and distribution of per-neuron CV of ISI (right)."""
    data = isi_cv_data(spikes, isi_bins, isi_max_ms, cv_bins, min_spikes)
    return draw_isi_cv(data, min_spikes, title or f"ISI and CV {_window_label(spikes)}"), data


def draw_isi_cv(data: dict, min_spikes: int, title: str):
    """The figure of isi_cv_data or stats.isi_cv_streamed numbers."""
    fig = Figure(figsize=(11, 4.5))
    ax_isi, ax_cv = fig.subplots(1, 2)
    for color, (pop, d) in zip(_colors(len(data)), data.items()):
        ax_isi.stairs(d["isi_counts"], d["isi_edges_ms"], color=color, lw=1.5, label=pop)
        ax_cv.stairs(d["cv_counts"], d["cv_edges"], color=color, lw=1.5,
                     label=f"{pop} (n = {int(d['cv_counts'].sum())})")
    ax_isi.set_xlabel("inter-spike interval (ms)")
    ax_isi.set_ylabel("intervals")
    ax_isi.legend(fontsize="small")
    ax_cv.axvline(1.0, color="grey", ls=":", lw=1)  # Poisson firing has CV = 1
    ax_cv.set_xlabel(f"CV of ISI (neurons with ≥ {min_spikes} spikes)")
    ax_cv.set_ylabel("neurons")
    ax_cv.legend(fontsize="small")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- PSTH

def psth_data(spikes: Mapping[str, Spikes], events_ms: np.ndarray,
              groups: np.ndarray | None = None, pre_ms: float = 100.0,
              post_ms: float = 500.0, bin_ms: float = 10.0) -> dict:
    """{population: {group value (or "all"): stats.Psth}}."""
    events_ms = np.asarray(events_ms, dtype=np.float64)
    if groups is None:
        selections = {"all": np.ones(events_ms.size, bool)}
    else:
        groups = np.asarray(groups)
        selections = {g: groups == g for g in sorted(set(groups.tolist()), key=str)}
    return {pop: {g: stats.psth(s, events_ms[m], pre_ms, post_ms, bin_ms)
                  for g, m in selections.items()}
            for pop, s in spikes.items()}


def plot_psth(spikes: Mapping[str, Spikes], events_ms: np.ndarray,
              groups: np.ndarray | None = None, group_name: str = "",
              align_name: str = "event", pre_ms: float = 100.0, post_ms: float = 500.0,
              bin_ms: float = 10.0, title: str | None = None):
    data = psth_data(spikes, events_ms, groups, pre_ms, post_ms, bin_ms)
    return draw_psth(data, groups is not None, group_name, align_name, bin_ms, title), data


def draw_psth(data: dict, grouped: bool, group_name: str = "", align_name: str = "event",
              bin_ms: float = 10.0, title: str | None = None):
    """The figure of psth_data or stats.psth_streamed numbers ({population: {group:
    Psth}})."""
    fig = Figure(figsize=(8, 2.8 * len(data) + 0.6))
    axes = fig.subplots(len(data), 1, squeeze=False, sharex=True)[:, 0]
    for ax, (pop, by_group) in zip(axes, data.items()):
        for color, (g, h) in zip(_colors(len(by_group)), by_group.items()):
            label = f"{group_name} = {g}" if grouped else "all"
            ax.stairs(h.rate_hz, h.edges_ms, color=color, lw=1.5,
                      label=f"{label} ({h.n_events} events)")
        ax.axvline(0.0, color="grey", ls=":", lw=1)
        ax.set_ylabel("rate (Hz per neuron)")
        ax.set_title(pop)
        ax.legend(fontsize="small")
    axes[-1].set_xlabel(f"time from {align_name} (ms), {bin_ms:g} ms bins")
    fig.suptitle(title or f"PSTH aligned to {align_name}")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- traces

def traces_data(traces: Traces, variable: str = "v_mV",
                neurons: Sequence[int] | None = None, max_neurons: int = 5,
                t_start_ms: float | None = None, t_stop_ms: float | None = None,
                path: str | None = None) -> dict:
    if variable not in traces.variables:
        raise AnalysisInputError(path, f"no trace variable '{variable}' (recorded: "
                                 f"{', '.join(traces.variables)})",
                                 what=f"/traces/{traces.population}")
    if neurons:
        columns = []
        for nid in neurons:
            hit = np.flatnonzero(traces.node_ids == nid)
            if not hit.size:
                raise AnalysisInputError(path, f"neuron {nid} was not recorded (recorded: "
                                         f"{', '.join(map(str, traces.node_ids[:20]))}"
                                         f"{' ...' if traces.node_ids.size > 20 else ''})",
                                         what=f"/traces/{traces.population}")
            columns.append(int(hit[0]))
    else:
        columns = list(range(min(max_neurons, traces.node_ids.size)))
    t = traces.time_ms
    keep = np.ones(t.size, bool)
    if t_start_ms is not None:
        keep &= t >= t_start_ms
    if t_stop_ms is not None:
        keep &= t < t_stop_ms
    return {"time_ms": t[keep], "node_ids": traces.node_ids[columns],
            "values": traces.variables[variable][np.ix_(keep, columns)],
            "variable": variable, "population": traces.population}


def plot_traces(traces: Traces, variable: str = "v_mV", neurons: Sequence[int] | None = None,
                max_neurons: int = 5, t_start_ms: float | None = None,
                t_stop_ms: float | None = None, path: str | None = None,
                title: str | None = None):
    """One panel per neuron, shared time axis."""
    data = traces_data(traces, variable, neurons, max_neurons, t_start_ms, t_stop_ms, path)
    k = max(data["node_ids"].size, 1)
    fig = Figure(figsize=(10, 1.6 * k + 0.8))
    axes = fig.subplots(k, 1, squeeze=False, sharex=True)[:, 0]
    for j, (ax, nid) in enumerate(zip(axes, data["node_ids"])):
        ax.plot(data["time_ms"], data["values"][:, j], lw=0.8, color="black")
        ax.set_ylabel(f"{traces.population}[{nid}]\n{variable}", fontsize="small")
    axes[-1].set_xlabel("time (ms)")
    fig.suptitle(title or f"{variable} traces, population {traces.population}")
    fig.tight_layout()
    return fig, data


# --------------------------------------------------------------------------- sweeps

def sweep_data(index: SweepIndex, metric: str, x: str, by: str | None = None) -> dict:
    """Mean, std and count of ``metric`` at each value of ``x``, one series per value of
    ``by`` (repeated points, e.g. seeds, are averaged). Only points with status "done"
    and a finite metric count. Returns {by value (or "all"): {...}} plus the names used.
    """
    metric_name, x_name = index.resolve(metric), index.resolve(x)
    by_name = index.resolve(by) if by else None
    values = np.asarray(index.columns[metric_name])
    if values.dtype.kind not in "fiu":
        raise AnalysisInputError(index.folder, f"metric column '{metric_name}' is not numeric",
                                 what="sweep index")
    xs = np.asarray(index.columns[x_name])
    mask = index.done() & np.isfinite(values.astype(np.float64))
    series_keys = np.asarray(index.columns[by_name]) if by_name else np.full(xs.size, "all")
    out: dict = {}
    for g in sorted(set(series_keys[mask].tolist()), key=lambda v: (str(type(v)), v)):
        sel = mask & (series_keys == g)
        ux = sorted(set(xs[sel].tolist()))
        y = [values[sel & (xs == u)].astype(np.float64) for u in ux]
        out[g] = {"x": np.asarray(ux), "mean": np.asarray([v.mean() for v in y]),
                  "std": np.asarray([v.std() for v in y]),
                  "n": np.asarray([v.size for v in y])}
    return {"metric": metric_name, "x": x_name, "by": by_name, "series": out,
            "n_done": int(index.done().sum()), "n_points": index.n_points}


def plot_sweep(index: SweepIndex, metric: str, x: str, by: str | None = None,
               title: str | None = None):
    data = sweep_data(index, metric, x, by)
    fig = Figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    numeric_x = all(np.asarray(s["x"]).dtype.kind in "fiu" for s in data["series"].values())
    for color, (g, s) in zip(_colors(len(data["series"])), data["series"].items()):
        xpos = s["x"] if numeric_x else np.arange(s["x"].size)
        label = f"{data['by']} = {g}" if data["by"] else None
        ax.errorbar(xpos, s["mean"], yerr=np.where(s["n"] > 1, s["std"], 0.0), marker="o",
                    color=color, capsize=3, label=label)
        if not numeric_x:
            ax.set_xticks(xpos, [str(v) for v in s["x"]])
    ax.set_xlabel(data["x"])
    ax.set_ylabel(data["metric"] + " (mean ± std over repeats)")
    ax.set_title(title or f"{data['metric']} against {data['x']} "
                 f"({data['n_done']} of {data['n_points']} points done)")
    if data["by"]:
        ax.legend(fontsize="small")
    return fig, data

