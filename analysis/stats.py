"""The numbers behind every figure: rates, spectra, ISIs, CVs, PSTHs, Fano factors.

Conventions: times in ms, rates in Hz (spikes per neuron per second), windows half-open
[t_start, t_stop). Binned quantities use only whole bins, so the last, partial bin of a
window that is not a multiple of the bin width is dropped rather than under-counted.
A spike t falls in bin k when edges[k] <= t < edges[k + 1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import signal

from .io import DEFAULT_CHUNK, SpikeFile, Spikes

# Frequency bands of the Izhikevich (2003) network's rhythms (IEEE TNN 14:1569, Fig. 3):
# alpha around 10 Hz and gamma around 40 Hz.
BANDS_HZ = {"alpha": (8.0, 13.0), "gamma": (30.0, 80.0)}


# --------------------------------------------------------------------------- binning

def bin_edges(t_start_ms: float, t_stop_ms: float, bin_ms: float) -> np.ndarray:
    """Edges of the whole bins of width bin_ms that fit in [t_start, t_stop)."""
    if not bin_ms > 0:
        raise ValueError(f"bin width must be positive, got {bin_ms} ms")
    n_bins = int(math.floor((t_stop_ms - t_start_ms) / bin_ms + 1e-9))
    return t_start_ms + bin_ms * np.arange(n_bins + 1, dtype=np.float64)


def bin_counts(times_ms: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Spike counts per bin (edges[k] <= t < edges[k + 1]); spikes outside are ignored."""
    n_bins = edges.size - 1
    if n_bins <= 0:
        return np.zeros(0, np.int64)
    k = np.searchsorted(edges, times_ms, side="right") - 1
    k = k[(k >= 0) & (k < n_bins)]
    return np.bincount(k, minlength=n_bins).astype(np.int64)


def gaussian_smooth(x: np.ndarray, sigma_bins: float) -> np.ndarray:
    """Convolution with a unit-area Gaussian truncated at 4 sigma (edges zero-padded)."""
    if sigma_bins <= 0:
        return np.asarray(x, dtype=np.float64)
    half = int(math.ceil(4 * sigma_bins))
    k = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma_bins) ** 2)
    return np.convolve(x, k / k.sum(), mode="same")


# --------------------------------------------------------------------------- rates, spectra

def population_rate(spikes: Spikes, bin_ms: float = 1.0,
                    smooth_ms: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(edges_ms, rate_hz): mean rate per neuron in each bin, optionally smoothed by a
    Gaussian of standard deviation smooth_ms."""
    edges = bin_edges(spikes.t_start_ms, spikes.t_stop_ms, bin_ms)
    counts = bin_counts(spikes.times_ms, edges)
    rate = counts / (max(spikes.n_neurons, 1) * bin_ms * 1e-3)
    return edges, gaussian_smooth(rate, smooth_ms / bin_ms)


def rate_spectrum(rate_hz: np.ndarray, bin_ms: float,
                  segment_ms: float = 1000.0) -> tuple[np.ndarray, np.ndarray]:
    """(freqs_hz, psd in Hz^2/Hz) of a binned rate: Welch's method with Hann windows of
    segment_ms (the whole signal if shorter), 50 % overlap, mean removed per segment."""
    x = np.asarray(rate_hz, dtype=np.float64)
    if x.size < 2:
        return np.zeros(0), np.zeros(0)
    nperseg = int(min(x.size, max(2, round(segment_ms / bin_ms))))
    return signal.welch(x, fs=1000.0 / bin_ms, window="hann", nperseg=nperseg,
                        noverlap=nperseg // 2, detrend="constant", scaling="density")


def band_peak(freqs_hz: np.ndarray, psd: np.ndarray,
              band: tuple[float, float]) -> tuple[float, float]:
    """(frequency, power) of the largest PSD value with band[0] <= f <= band[1]."""
    inside = (freqs_hz >= band[0]) & (freqs_hz <= band[1])
    if not inside.any():
        return math.nan, math.nan
    k = np.flatnonzero(inside)[np.argmax(psd[inside])]
    return float(freqs_hz[k]), float(psd[k])


def firing_rates(spikes: Spikes) -> np.ndarray:
    """Rate of every neuron (silent ones included) over the window, Hz."""
    counts = np.bincount(spikes.node_ids, minlength=spikes.n_neurons)
    return counts / (spikes.duration_ms * 1e-3)


@dataclass
class Counts:
    """Spike counts of one population in [t_start_ms, t_stop_ms): per neuron and per bin
    of bin_ms. All the rate figures need, in memory O(neurons + bins)."""

    population: str
    n_neurons: int
    t_start_ms: float
    t_stop_ms: float
    bin_ms: float
    edges_ms: np.ndarray
    bin_counts: np.ndarray
    neuron_counts: np.ndarray

    @property
    def rate_hz(self) -> np.ndarray:
        """Mean rate per neuron in each bin."""
        return self.bin_counts / (max(self.n_neurons, 1) * self.bin_ms * 1e-3)

    @property
    def neuron_rates_hz(self) -> np.ndarray:
        return self.neuron_counts / ((self.t_stop_ms - self.t_start_ms) * 1e-3)


def count_spikes(spikes: Spikes, bin_ms: float = 1.0) -> Counts:
    edges = bin_edges(spikes.t_start_ms, spikes.t_stop_ms, bin_ms)
    return Counts(spikes.population, spikes.n_neurons, spikes.t_start_ms, spikes.t_stop_ms,
                  bin_ms, edges, bin_counts(spikes.times_ms, edges),
                  np.bincount(spikes.node_ids, minlength=spikes.n_neurons))


def count_spikes_streamed(spike_file: SpikeFile, population: str,
                          t_start_ms: float | None = None, t_stop_ms: float | None = None,
                          bin_ms: float = 1.0, chunk_size: int = DEFAULT_CHUNK) -> Counts:
    """The same numbers as count_spikes(spike_file.read(...)), chunk by chunk."""
    t0, t1 = spike_file.window(t_start_ms, t_stop_ms)
    n = spike_file.size(population)
    edges = bin_edges(t0, t1, bin_ms)
    per_bin = np.zeros(edges.size - 1, np.int64)
    per_neuron = np.zeros(n, np.int64)
    for times, ids in spike_file.iter_chunks(population, t0, t1, chunk_size):
        per_bin += bin_counts(times, edges)
        per_neuron += np.bincount(ids, minlength=n)
    return Counts(population, n, t0, t1, bin_ms, edges, per_bin, per_neuron)


# --------------------------------------------------------------------------- ISI, CV, Fano

def _by_neuron(times_ms: np.ndarray, node_ids: np.ndarray):
    """Spikes grouped by neuron, time order kept inside each neuron."""
    order = np.lexsort((times_ms, node_ids))
    return times_ms[order], node_ids[order]


def isi_intervals(times_ms: np.ndarray, node_ids: np.ndarray) -> np.ndarray:
    """All inter-spike intervals (ms) of all neurons, neuron by neuron."""
    t, i = _by_neuron(times_ms, node_ids)
    same = i[1:] == i[:-1]
    return (t[1:] - t[:-1])[same]


def cv_isi(times_ms: np.ndarray, node_ids: np.ndarray, n_neurons: int,
           min_spikes: int = 3) -> np.ndarray:
    """Coefficient of variation std(ISI) / mean(ISI) (population std, ddof = 0) of each
    neuron; NaN for neurons with fewer than min_spikes spikes."""
    t, i = _by_neuron(times_ms, node_ids)
    same = i[1:] == i[:-1]
    isi, owner = (t[1:] - t[:-1])[same], i[1:][same]
    n = np.bincount(owner, minlength=n_neurons).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(owner, isi, minlength=n_neurons) / n
        var = np.bincount(owner, (isi - mean[owner]) ** 2, minlength=n_neurons) / n
        cv = np.sqrt(var) / mean
    cv[n < max(min_spikes - 1, 1)] = np.nan
    return cv


def fano_factor(times_ms: np.ndarray, t_start_ms: float, t_stop_ms: float,
                bin_ms: float = 10.0) -> float:
    """Population Fano factor var(N_k) / mean(N_k) of the population spike count N_k in
    bins of bin_ms (ddof = 0): about 1 for independent Poisson neurons, far above 1 when
    neurons fire together."""
    counts = bin_counts(times_ms, bin_edges(t_start_ms, t_stop_ms, bin_ms))
    if counts.size == 0 or counts.mean() == 0:
        return math.nan
    return float(counts.var() / counts.mean())


# --------------------------------------------------------------------------- PSTH

@dataclass
class Psth:
    edges_ms: np.ndarray     # relative to the event
    counts: np.ndarray       # spikes summed over events and neurons
    rate_hz: np.ndarray      # counts / (n_events * n_neurons * bin width)
    n_events: int
    n_neurons: int


def psth(spikes: Spikes, events_ms: np.ndarray, pre_ms: float = 100.0,
         post_ms: float = 500.0, bin_ms: float = 10.0) -> Psth:
    """Peri-stimulus time histogram: spikes at t counted at t - e for each event e, bins
    over [-pre_ms, post_ms). Events that are not finite (e.g. an omitted outcome) are
    skipped. ``spikes`` must cover [e - pre_ms, e + post_ms) of every event."""
    events = np.asarray(events_ms, dtype=np.float64)
    events = events[np.isfinite(events)]
    edges = bin_edges(-pre_ms, post_ms, bin_ms)
    counts = np.zeros(edges.size - 1, np.int64)
    times = spikes.times_ms
    for e in events:
        lo, hi = np.searchsorted(times, [e - pre_ms, e + post_ms], side="left")
        counts += bin_counts(times[lo:hi] - e, edges)
    denom = max(events.size, 1) * max(spikes.n_neurons, 1) * bin_ms * 1e-3
    return Psth(edges, counts, counts / denom, int(events.size), spikes.n_neurons)


# --------------------------------------------------------------------------- streaming summary

def chunk_isis(times: np.ndarray, ids: np.ndarray,
               last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(intervals, owner ids) ending in one time-ordered chunk. ``last`` holds each
    neuron's last spike time before the chunk (NaN: none yet) and is updated in place,
    so intervals that cross chunk boundaries are counted exactly once."""
    if times.size == 0:
        return np.empty(0, np.float64), np.empty(0, np.int64)
    order = np.argsort(ids, kind="stable")  # chunk is time-ordered: stays so per id
    t, i = times[order], ids[order]
    first = np.r_[True, i[1:] != i[:-1]]
    last_of_id = np.r_[i[1:] != i[:-1], True]
    prev = np.empty_like(t)
    prev[1:] = t[:-1]
    prev[first] = last[i[first]]
    last[i[last_of_id]] = t[last_of_id]
    isi = t - prev
    valid = ~np.isnan(isi)
    return isi[valid], i[valid]


def iter_time_ordered(spike_file: SpikeFile, population: str, t_start_ms: float,
                      t_stop_ms: float, chunk_size: int = DEFAULT_CHUNK):
    """Time-ordered (times, ids) chunks of a window: streamed from a by_time file;
    other orders are read (the window only) and sorted first."""
    if spike_file.sorting.get(population, "by_time") == "by_time":
        yield from spike_file.iter_chunks(population, t_start_ms, t_stop_ms, chunk_size)
    else:
        s = spike_file.read(population, t_start_ms, t_stop_ms)
        yield s.times_ms, s.node_ids


class _Accumulator:
    """Per-population statistics from time-ordered chunks, in memory O(neurons + bins).

    ISIs cross chunk boundaries through the last spike time of each neuron; ISI moments
    are merged chunk by chunk with Chan et al.'s pairwise update (1979), which avoids the
    cancellation of sum-of-squares formulas.
    """

    def __init__(self, n_neurons: int, edges: np.ndarray):
        self.n = n_neurons
        self.counts = np.zeros(n_neurons, np.int64)
        self.last = np.full(n_neurons, np.nan)
        self.isi_n = np.zeros(n_neurons)
        self.isi_mean = np.zeros(n_neurons)
        self.isi_m2 = np.zeros(n_neurons)
        self.edges = edges
        self.pop_counts = np.zeros(max(edges.size - 1, 0), np.int64)
        self.isi_max: float | None = None  # largest interval so far

    def add(self, times: np.ndarray, ids: np.ndarray) -> None:
        if times.size == 0:
            return
        self.counts += np.bincount(ids, minlength=self.n)
        self.pop_counts += bin_counts(times, self.edges)
        isi, owner = chunk_isis(times, ids, self.last)
        if isi.size:
            m = float(isi.max())
            self.isi_max = m if self.isi_max is None else max(self.isi_max, m)
        n_b = np.bincount(owner, minlength=self.n).astype(np.float64)
        has = n_b > 0
        mean_b = np.zeros(self.n)
        mean_b[has] = np.bincount(owner, isi, minlength=self.n)[has] / n_b[has]
        m2_b = np.bincount(owner, (isi - mean_b[owner]) ** 2, minlength=self.n)
        n_a = self.isi_n
        total = n_a + n_b
        delta = mean_b - self.isi_mean
        with np.errstate(invalid="ignore", divide="ignore"):
            self.isi_mean = np.where(has, self.isi_mean + delta * n_b / total, self.isi_mean)
            self.isi_m2 = np.where(has, self.isi_m2 + m2_b + delta ** 2 * n_a * n_b / total,
                                   self.isi_m2)
        self.isi_n = total

    def cv(self, min_spikes: int) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            cv = np.sqrt(self.isi_m2 / self.isi_n) / self.isi_mean
        cv[self.isi_n < max(min_spikes - 1, 1)] = np.nan
        return cv


def _nan_stat(f, x: np.ndarray) -> float | None:
    x = x[np.isfinite(x)]
    return float(f(x)) if x.size else None


def summarize(spike_file: SpikeFile, populations: Sequence[str] | None = None,
              t_start_ms: float | None = None, t_stop_ms: float | None = None,
              fano_bin_ms: float = 10.0, min_spikes: int = 3,
              chunk_size: int = DEFAULT_CHUNK) -> dict:
    """Spike counts, rates, CVs and population Fano factors per population.

    by_time populations are streamed chunk by chunk; other orders are read (window
    only) and sorted first, since ISIs need each neuron's spikes in time order.
    """
    t0, t1 = spike_file.window(t_start_ms, t_stop_ms)
    edges = bin_edges(t0, t1, fano_bin_ms)
    duration_s = (t1 - t0) * 1e-3
    result = {"file": spike_file.path, "t_start_ms": t0, "t_stop_ms": t1,
              "fano_bin_ms": fano_bin_ms, "min_spikes_for_cv": min_spikes,
              "populations": {}}
    if spike_file.run is not None:
        result["run"] = {k: spike_file.run.attrs[k] for k in
                         ("seed", "dt_ms", "duration_ms", "steps_done", "complete",
                          "experiment", "engine_version", "git_hash", "threads")
                         if k in spike_file.run.attrs}
    total_spikes = total_neurons = 0
    for pop in spike_file.select(populations):
        n = spike_file.size(pop)
        acc = _Accumulator(n, edges)
        for times, ids in iter_time_ordered(spike_file, pop, t0, t1, chunk_size):
            acc.add(times, ids)
        rates = acc.counts / duration_s
        cvs = acc.cv(min_spikes)
        pc = acc.pop_counts
        n_spikes = int(acc.counts.sum())
        result["populations"][pop] = {
            "n_neurons": n,
            "n_spikes": n_spikes,
            "mean_rate_hz": float(rates.mean()) if n else None,
            "std_rate_hz": float(rates.std()) if n else None,
            "silent_fraction": float(np.mean(acc.counts == 0)) if n else None,
            "cv_isi_mean": _nan_stat(np.mean, cvs),
            "cv_isi_median": _nan_stat(np.median, cvs),
            "n_neurons_with_cv": int(np.isfinite(cvs).sum()),
            "fano_factor": float(pc.var() / pc.mean()) if pc.size and pc.mean() > 0 else None,
        }
        total_spikes += n_spikes
        total_neurons += n
    result["n_spikes"] = total_spikes
    result["n_neurons"] = total_neurons
    result["mean_rate_hz"] = total_spikes / (total_neurons * duration_s) if total_neurons else None
    return result


# --------------------------------------------------------------------------- streamed ISI, PSTH

def isi_cv_histograms(isi_counts_of, cvs: dict, isi_edges: np.ndarray,
                      cv_bins: int) -> dict:
    """The figure data of ISI and CV histograms, shared by the in-memory and the
    streamed paths: {population: {isi_edges_ms, isi_counts, cv, cv_edges, cv_counts}}.
    ``isi_counts_of(population, edges)`` gives the ISI histogram."""
    cv_top = max((float(np.nanmax(c)) for c in cvs.values() if np.isfinite(c).any()),
                 default=1.0)
    cv_edges = np.linspace(0.0, max(cv_top, 1e-9), cv_bins + 1)
    return {p: {"isi_edges_ms": isi_edges, "isi_counts": isi_counts_of(p, isi_edges),
                "cv": cv, "cv_edges": cv_edges,
                "cv_counts": np.histogram(cv[np.isfinite(cv)], cv_edges)[0]}
            for p, cv in cvs.items()}


def isi_cv_streamed(spike_file: SpikeFile, populations: Sequence[str] | None = None,
                    t_start_ms: float | None = None, t_stop_ms: float | None = None,
                    isi_bins: int = 50, isi_max_ms: float | None = None, cv_bins: int = 30,
                    min_spikes: int = 3, chunk_size: int = DEFAULT_CHUNK) -> dict:
    """The numbers of plots.isi_cv_data, chunk by chunk, in memory O(neurons + bins):
    one pass for the CVs and the largest ISI, a second for the ISI histogram (only
    when isi_max_ms is not given). The intervals themselves are not kept."""
    t0, t1 = spike_file.window(t_start_ms, t_stop_ms)
    pops = spike_file.select(populations)
    cvs, top = {}, None
    for p in pops:
        acc = _Accumulator(spike_file.size(p), np.zeros(1))
        for times, ids in iter_time_ordered(spike_file, p, t0, t1, chunk_size):
            acc.add(times, ids)
        cvs[p] = acc.cv(min_spikes)
        if acc.isi_max is not None:
            top = acc.isi_max if top is None else max(top, acc.isi_max)

    def counts(p: str, edges: np.ndarray) -> np.ndarray:
        out = np.zeros(edges.size - 1, np.int64)
        last = np.full(spike_file.size(p), np.nan)
        for times, ids in iter_time_ordered(spike_file, p, t0, t1, chunk_size):
            out += np.histogram(chunk_isis(times, ids, last)[0], edges)[0]
        return out

    # No interval anywhere: an arbitrary visible axis, as in memory.
    top = isi_max_ms or (1.0 if top is None else top)
    return isi_cv_histograms(counts, cvs, np.linspace(0.0, top, isi_bins + 1), cv_bins)


def psth_streamed(spike_file: SpikeFile, population: str, events_by_group: dict,
                  pre_ms: float = 100.0, post_ms: float = 500.0, bin_ms: float = 10.0,
                  chunk_size: int = DEFAULT_CHUNK) -> dict:
    """{group: Psth} with the numbers of psth() for each group's events, from one pass
    over the window that covers every event, chunk by chunk: memory O(chunk + events +
    bins) however long the recording."""
    events = {g: np.asarray(e, dtype=np.float64) for g, e in events_by_group.items()}
    events = {g: e[np.isfinite(e)] for g, e in events.items()}
    edges = bin_edges(-pre_ms, post_ms, bin_ms)
    counts = {g: np.zeros(edges.size - 1, np.int64) for g in events}
    n = spike_file.size(population)
    every = np.concatenate([e for e in events.values()] + [np.empty(0)])
    if every.size:
        t0, t1 = float(every.min() - pre_ms), float(every.max() + post_ms)
        for times, _ in iter_time_ordered(spike_file, population, t0, t1, chunk_size):
            if times.size == 0:
                continue
            for g, evs in events.items():
                # Only the events whose window meets this chunk's time span.
                near = evs[(evs + post_ms > times[0]) & (evs - pre_ms <= times[-1])]
                for e in near:
                    lo, hi = np.searchsorted(times, [e - pre_ms, e + post_ms], side="left")
                    counts[g] += bin_counts(times[lo:hi] - e, edges)
    out = {}
    for g, evs in events.items():
        denom = max(evs.size, 1) * max(n, 1) * bin_ms * 1e-3
        out[g] = Psth(edges, counts[g], counts[g] / denom, int(evs.size), n)
    return out
