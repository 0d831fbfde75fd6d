"""Readers for snnsim result files: SONATA spikes, /run, /trials, /traces, sweep indexes.

Layout read here (written by the engine's SONATA sink):

- root attributes ``magic`` = 0x0A7A, ``version`` = [0, 1];
- ``/spikes/<population>/timestamps`` (float, ms) and ``/spikes/<population>/node_ids``
  (unsigned, local ids 0..N-1), equal-length 1-D datasets, group attribute ``sorting``
  (HDF5 enum over uint8 {none: 0, by_id: 1, by_time: 2}, or a string, or absent);
- ``/run`` attributes (seed, dt_ms, duration_ms, steps_done, complete, ...) and the
  datasets ``/run/population_names`` + ``/run/population_sizes`` (a silent neuron has
  no spikes, so sizes cannot be recovered from the spikes);
- ``/trials``: equal-length 1-D columns; ``/traces/<population>``: node_ids (k),
  time_ms (T) and T x k variables (v_mV, u, input);
- a sweep folder: ``index.h5`` (group ``/points``, one dataset per column) or
  ``index.csv``, and one ``spikes.h5`` per point folder.

Spike windows are half-open, [t_start_ms, t_stop_ms). A window of a by_time file is
found by binary search on the timestamps dataset and read as one slice; other files
are scanned in chunks of ``chunk_size`` spikes, so memory stays proportional to the
window (or the chunk), never to the file.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Sequence

import h5py
import numpy as np

from .errors import AnalysisInputError, warn

SONATA_MAGIC = 0x0A7A
# The engine's enum {none: 0, by_id: 1, by_time: 2}; used when the attribute is a plain
# integer without enum metadata.
SORTING_BY_VALUE = {0: "none", 1: "by_id", 2: "by_time"}
# Spelling variants other SONATA writers use for the same orders.
SORTING_ALIASES = {"by_time": "by_time", "time": "by_time", "by_id": "by_id", "id": "by_id",
                   "node_id": "by_id", "gid": "by_id", "none": "none", "na": "none",
                   "unknown": "none"}
DEFAULT_CHUNK = 1 << 20
# Below this many elements the binary search reads the remaining range in one slice
# instead of one element per HDF5 call.
_SEARCH_BLOCK = 4096
TRACE_VARIABLES = ("v_mV", "u", "input")


# --------------------------------------------------------------------------- data types

@dataclass(frozen=True)
class Spikes:
    """The spikes of one population inside the half-open window [t_start_ms, t_stop_ms).

    ``times_ms`` (float64) and ``node_ids`` (int64, local ids < n_neurons) are sorted by
    time, ties by node id. ``n_neurons`` counts silent neurons too.
    """

    population: str
    times_ms: np.ndarray
    node_ids: np.ndarray
    n_neurons: int
    t_start_ms: float
    t_stop_ms: float

    @property
    def n_spikes(self) -> int:
        return int(self.times_ms.size)

    @property
    def duration_ms(self) -> float:
        return float(self.t_stop_ms - self.t_start_ms)


@dataclass
class RunInfo:
    """The ``/run`` group: attributes and the population table."""

    attrs: dict
    population_names: list[str]
    population_sizes: list[int]

    @property
    def populations(self) -> dict[str, int]:
        return dict(zip(self.population_names, self.population_sizes))

    @property
    def complete(self) -> bool | None:
        value = self.attrs.get("complete")
        return None if value is None else bool(int(value))

    @property
    def simulated_ms(self) -> float | None:
        """Time actually simulated: duration_ms after a clean close, steps_done * dt_ms
        otherwise (an interrupted run stopped early)."""
        duration = self.attrs.get("duration_ms")
        steps, dt = self.attrs.get("steps_done"), self.attrs.get("dt_ms")
        if self.complete is False and steps is not None and dt is not None and int(steps) > 0:
            return float(int(steps) * float(dt))
        if duration is not None:
            return float(duration)
        if steps is not None and dt is not None and int(steps) > 0:
            return float(int(steps) * float(dt))
        return None


@dataclass
class Traces:
    """Membrane traces of one population: ``variables[name]`` has shape (T, k)."""

    population: str
    node_ids: np.ndarray
    time_ms: np.ndarray
    variables: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class SweepIndex:
    """A sweep folder's table of points: one numpy array per column."""

    folder: str
    columns: dict[str, np.ndarray]

    @property
    def n_points(self) -> int:
        return len(self.columns["point"])

    @property
    def params(self) -> list[str]:
        return [c for c in self.columns if c.startswith("param.")]

    @property
    def metrics(self) -> list[str]:
        return [c for c in self.columns if c.startswith("metric.")]

    def column(self, name: str) -> np.ndarray:
        """A column by full name, or by its short name without ``param.``/``metric.``."""
        for candidate in (name, "param." + name, "metric." + name):
            if candidate in self.columns:
                return self.columns[candidate]
        raise AnalysisInputError(self.folder, f"no column '{name}' (columns: "
                                 f"{', '.join(self.columns)})", what="sweep index")

    def resolve(self, name: str) -> str:
        for candidate in (name, "param." + name, "metric." + name):
            if candidate in self.columns:
                return candidate
        self.column(name)  # raises the error naming the columns
        return name

    def done(self) -> np.ndarray:
        """Boolean mask of the points whose status is "done"."""
        return np.asarray([str(s) == "done" for s in self.columns["status"]], dtype=bool)

    def spike_file(self, i: int) -> str:
        return os.path.join(self.folder, str(self.columns["folder"][i]), "spikes.h5")


# --------------------------------------------------------------------------- helpers

def resolve_spike_path(path: str | os.PathLike) -> str:
    """A run folder stands for its ``spikes.h5``."""
    path = os.fspath(path)
    if os.path.isdir(path):
        return os.path.join(path, "spikes.h5")
    return path


def open_h5(path: str | os.PathLike) -> h5py.File:
    path = os.fspath(path)
    if not os.path.exists(path):
        raise AnalysisInputError(path, "no such file")
    if os.path.isdir(path):
        raise AnalysisInputError(path, "is a folder, expected an HDF5 file")
    try:
        return h5py.File(path, "r")
    except OSError as e:
        raise AnalysisInputError(path, f"cannot be read as HDF5 (truncated, or not an HDF5 "
                                 f"file): {e}") from None


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray) and value.shape == ():
        return _text(value[()])
    return str(value)


def _attr_value(value):
    """Attributes as plain Python values (strings decoded, scalars unwrapped)."""
    if isinstance(value, (bytes, str)):
        return _text(value)
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "OSU":
            return [_text(v) for v in value.ravel()]
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _string_array(values: np.ndarray) -> np.ndarray:
    return np.asarray([_text(v) for v in values], dtype=object)


def decode_sorting(group: h5py.Group) -> str:
    """``sorting`` as "none", "by_id" or "by_time", whether written as an HDF5 enum, a
    plain integer or a string. Absent or unknown means "none" (no order assumed)."""
    if "sorting" not in group.attrs:
        return "none"
    value = group.attrs["sorting"]
    if isinstance(value, (bytes, str, np.bytes_, np.str_)) or (
            isinstance(value, np.ndarray) and value.dtype.kind in "OSU"):
        return SORTING_ALIASES.get(_text(value).strip().lower(), "none")
    try:
        number = int(np.asarray(value).ravel()[0])
    except (TypeError, ValueError, IndexError):
        return "none"
    enum = h5py.check_enum_dtype(group.attrs.get_id("sorting").dtype)
    if enum:
        names = {int(v): k for k, v in enum.items()}
        return SORTING_ALIASES.get(names.get(number, "none").lower(), "none")
    return SORTING_BY_VALUE.get(number, "none")


def sorted_search(ds, value: float, lo: int = 0, hi: int | None = None) -> int:
    """First index i in [lo, hi] with ds[i] >= value, for a dataset sorted ascending.

    Bisects with single-element reads until the range fits one block, then reads that
    block: about log2(n / 4096) + 1 HDF5 reads for n elements, whatever n is.
    """
    hi = len(ds) if hi is None else hi
    while hi - lo > _SEARCH_BLOCK:
        mid = (lo + hi) // 2
        if ds[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    block = np.asarray(ds[lo:hi])
    return lo + int(np.searchsorted(block, value, side="left"))


def _chunk_step(ds, chunk_size: int) -> int:
    """Read step: a multiple of the dataset's own chunk length, so no HDF5 chunk is
    decompressed twice."""
    chunks = getattr(ds, "chunks", None)
    if chunks:
        c = int(chunks[0])
        return max(c, (chunk_size // c) * c)
    return max(1, chunk_size)


# --------------------------------------------------------------------------- run metadata

def _read_run(h5: h5py.File, path: str) -> RunInfo | None:
    if "run" not in h5:
        return None
    run = h5["run"]
    if not isinstance(run, h5py.Group):
        raise AnalysisInputError(path, "is not a group", what="/run")
    attrs = {k: _attr_value(v) for k, v in run.attrs.items()}
    has_names, has_sizes = "population_names" in run, "population_sizes" in run
    names: list[str] = []
    sizes: list[int] = []
    if has_names != has_sizes:
        missing = "population_sizes" if has_names else "population_names"
        raise AnalysisInputError(path, "dataset missing (population_names and "
                                 "population_sizes come as a pair)", what=f"/run/{missing}")
    if has_names:
        names_ds, sizes_ds = run["population_names"], run["population_sizes"]
        if not isinstance(names_ds, h5py.Dataset) or names_ds.ndim != 1:
            raise AnalysisInputError(path, "expected a 1-D string dataset",
                                     what="/run/population_names")
        if not isinstance(sizes_ds, h5py.Dataset) or sizes_ds.ndim != 1 or \
                sizes_ds.dtype.kind not in "ui":
            raise AnalysisInputError(path, f"expected a 1-D unsigned integer dataset, found "
                                     f"{getattr(sizes_ds, 'dtype', 'a group')}",
                                     what="/run/population_sizes")
        if names_ds.shape != sizes_ds.shape:
            raise AnalysisInputError(path, f"population_names has {names_ds.shape[0]} entries "
                                     f"but population_sizes has {sizes_ds.shape[0]}", what="/run")
        if names_ds.dtype.kind not in "OSU":
            raise AnalysisInputError(path, f"expected strings, found {names_ds.dtype}",
                                     what="/run/population_names")
        names = [_text(v) for v in names_ds[()]]
        raw_sizes = np.asarray(sizes_ds[()])
        if raw_sizes.size and raw_sizes.min() < 0:
            raise AnalysisInputError(path, "negative population size",
                                     what="/run/population_sizes")
        sizes = [int(s) for s in raw_sizes]
    return RunInfo(attrs=attrs, population_names=names, population_sizes=sizes)


def read_run(path: str | os.PathLike) -> RunInfo | None:
    """The ``/run`` group of a result file (None if the file has none). Warns on stderr
    when the run is marked incomplete."""
    path = resolve_spike_path(path)
    with open_h5(path) as h5:
        run = _read_run(h5, path)
    if run is not None and run.complete is False:
        warn(path, INCOMPLETE_MESSAGE)
    return run


INCOMPLETE_MESSAGE = ("/run complete = 0: the run was interrupted or is still running; "
                      "the data end early and may be missing the last epoch")


# --------------------------------------------------------------------------- spike file

class SpikeFile:
    """An open SONATA spike file (a run folder stands for its spikes.h5).

    Opening checks the structure (magic, /spikes, both datasets of every population,
    their shapes and dtypes, /run's population table) and warns on stderr when the
    run is marked incomplete. Reading is lazy: nothing is loaded until asked.
    """

    def __init__(self, path: str | os.PathLike, *, warn_incomplete: bool = True):
        self.path = resolve_spike_path(path)
        self._h5 = open_h5(self.path)
        try:
            self._validate()
        except BaseException:
            self._h5.close()
            raise
        if warn_incomplete and self.run is not None and self.run.complete is False:
            warn(self.path, INCOMPLETE_MESSAGE)

    # -- lifetime
    def close(self) -> None:
        self._h5.close()

    def __enter__(self) -> "SpikeFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def h5(self) -> h5py.File:
        return self._h5

    # -- structure
    def _error(self, message: str, what: str | None = None) -> AnalysisInputError:
        return AnalysisInputError(self.path, message, what=what)

    def _validate(self) -> None:
        h5 = self._h5
        if "magic" in h5.attrs:
            try:
                magic = int(np.asarray(h5.attrs["magic"]).ravel()[0])
            except (TypeError, ValueError, IndexError):
                raise self._error("root attribute 'magic' is not an integer") from None
            if magic != SONATA_MAGIC:
                raise self._error(f"root attribute 'magic' is {magic:#06x}, expected "
                                  f"{SONATA_MAGIC:#06x} (not a SONATA spike file)")
        if "spikes" not in h5 or not isinstance(h5["spikes"], h5py.Group):
            raise self._error("group missing (not a SONATA spike file)", what="/spikes")
        self.run = _read_run(h5, self.path)
        self._groups: dict[str, h5py.Group] = {}
        self.sorting: dict[str, str] = {}
        for name, obj in h5["spikes"].items():
            if not isinstance(obj, h5py.Group):
                continue
            self._check_population_group(name, obj)
            self._groups[name] = obj
            self.sorting[name] = decode_sorting(obj)
        run_names = self.run.population_names if self.run is not None else []
        # /run's order first (the order populations were declared), then any other.
        self.populations: list[str] = list(run_names) + [p for p in self._groups
                                                         if p not in run_names]
        if not self.populations:
            raise self._error("holds no population", what="/spikes")
        self._sizes: dict[str, int] = dict(self.run.populations) if self.run else {}
        self._max_time: dict[str, float] = {}

    def _check_population_group(self, name: str, group: h5py.Group) -> None:
        lengths = {}
        for ds_name, kinds, expected in (("timestamps", "f", "floating point (ms)"),
                                         ("node_ids", "ui", "unsigned integer")):
            what = f"/spikes/{name}/{ds_name}"
            if ds_name not in group:
                raise self._error("dataset missing", what=what)
            ds = group[ds_name]
            if not isinstance(ds, h5py.Dataset):
                raise self._error("is not a dataset", what=what)
            if ds.ndim != 1:
                raise self._error(f"expected a 1-D dataset, found shape {ds.shape}", what=what)
            if ds.dtype.kind not in kinds:
                raise self._error(f"expected {expected} values, found dtype {ds.dtype}",
                                  what=what)
            lengths[ds_name] = ds.shape[0]
        if lengths["timestamps"] != lengths["node_ids"]:
            raise self._error(f"timestamps has {lengths['timestamps']} entries but node_ids "
                              f"has {lengths['node_ids']}", what=f"/spikes/{name}")

    def check_population(self, population: str) -> str:
        if population not in self.populations:
            raise self._error(f"unknown population '{population}' (the file has: "
                              f"{', '.join(self.populations)})")
        return population

    def select(self, populations: Sequence[str] | None) -> list[str]:
        """Validated population names; None or empty means all."""
        if not populations:
            return list(self.populations)
        return [self.check_population(p) for p in populations]

    def n_spikes(self, population: str) -> int:
        self.check_population(population)
        group = self._groups.get(population)
        return 0 if group is None else int(group["timestamps"].shape[0])

    def size(self, population: str) -> int:
        """Number of neurons: from /run, else (foreign files) the largest id + 1."""
        self.check_population(population)
        if population not in self._sizes:
            largest = -1
            for _, ids in self.iter_chunks(population, t_start_ms=-math.inf,
                                           t_stop_ms=math.inf, check_ids=False):
                if ids.size:
                    largest = max(largest, int(ids.max()))
            self._sizes[population] = largest + 1
        return self._sizes[population]

    def max_time_ms(self, population: str) -> float | None:
        """The last spike time (None when the population never fired)."""
        self.check_population(population)
        if population not in self._max_time:
            group = self._groups.get(population)
            result = None
            if group is not None and group["timestamps"].shape[0] > 0:
                ts = group["timestamps"]
                if self.sorting[population] == "by_time":
                    result = float(ts[-1])
                else:
                    step = _chunk_step(ts, DEFAULT_CHUNK)
                    result = max(float(np.max(ts[i:i + step]))
                                 for i in range(0, ts.shape[0], step))
            self._max_time[population] = result
        return self._max_time[population]

    def default_window(self) -> tuple[float, float]:
        """[0, simulated time) from /run; without /run, up to just after the last spike."""
        if self.run is not None and self.run.simulated_ms is not None:
            return 0.0, float(self.run.simulated_ms)
        last = [t for t in (self.max_time_ms(p) for p in self.populations) if t is not None]
        if not last:
            return 0.0, 0.0
        return 0.0, float(np.nextafter(max(last), math.inf))

    def window(self, t_start_ms: float | None, t_stop_ms: float | None) -> tuple[float, float]:
        """The requested window with the defaults filled in; rejects an empty window."""
        if t_start_ms is None or t_stop_ms is None:
            default = self.default_window()
            t_start_ms = default[0] if t_start_ms is None else t_start_ms
            t_stop_ms = default[1] if t_stop_ms is None else t_stop_ms
        if not t_stop_ms > t_start_ms:
            raise self._error(f"empty time window [{t_start_ms}, {t_stop_ms}) ms")
        return float(t_start_ms), float(t_stop_ms)

    # -- reading spikes
    def _check_ids(self, population: str, ids: np.ndarray) -> None:
        if not ids.size:
            return
        if ids.dtype.kind == "i" and ids.min() < 0:
            raise self._error(f"negative node id {int(ids.min())}",
                              what=f"/spikes/{population}/node_ids")
        size = self._sizes.get(population)
        if size is not None and int(ids.max()) >= size:
            raise self._error(f"node id {int(ids.max())} is out of range: population "
                              f"'{population}' has {size} neurons (/run/population_sizes)",
                              what=f"/spikes/{population}/node_ids")

    def iter_chunks(self, population: str, t_start_ms: float | None = None,
                    t_stop_ms: float | None = None, chunk_size: int = DEFAULT_CHUNK,
                    check_ids: bool = True) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (times_ms float64, node_ids int64) chunks of at most ``chunk_size``
        spikes inside [t_start_ms, t_stop_ms), in file order (time order for by_time
        files). Only the window's index range of a by_time file is touched."""
        self.check_population(population)
        group = self._groups.get(population)
        if group is None:
            return
        t0, t1 = self.window(t_start_ms, t_stop_ms)
        ts, ids_ds = group["timestamps"], group["node_ids"]
        by_time = self.sorting[population] == "by_time"
        lo, hi = 0, ts.shape[0]
        if by_time:
            lo = sorted_search(ts, t0) if t0 > -math.inf else 0
            hi = sorted_search(ts, t1, lo) if t1 < math.inf else ts.shape[0]
        step = _chunk_step(ts, chunk_size)
        try:
            for begin in range(lo, hi, step):
                end = min(hi, begin + step)
                times = np.asarray(ts[begin:end], dtype=np.float64)
                raw_ids = np.asarray(ids_ds[begin:end])
                if check_ids:
                    self._check_ids(population, raw_ids)
                if raw_ids.dtype == np.uint64 and raw_ids.size and \
                        int(raw_ids.max()) > np.iinfo(np.int64).max:
                    raise self._error("node id does not fit in int64",
                                      what=f"/spikes/{population}/node_ids")
                ids = raw_ids.astype(np.int64, copy=False)
                if not by_time:
                    keep = (times >= t0) & (times < t1)
                    times, ids = times[keep], ids[keep]
                yield times, ids
        except OSError as e:
            raise self._error(f"read failed (truncated file?): {e}",
                              what=f"/spikes/{population}") from None

    def read(self, population: str, t_start_ms: float | None = None,
             t_stop_ms: float | None = None, node_ids: Iterable[int] | None = None,
             chunk_size: int = DEFAULT_CHUNK) -> Spikes:
        """The spikes of one population in [t_start_ms, t_stop_ms), optionally only those
        of ``node_ids``; sorted by time, ties by node id."""
        self.check_population(population)
        t0, t1 = self.window(t_start_ms, t_stop_ms)
        wanted = None if node_ids is None else np.unique(np.asarray(list(node_ids),
                                                                    dtype=np.int64))
        n = self.size(population)
        if wanted is not None and wanted.size and (wanted.min() < 0 or wanted.max() >= n):
            raise self._error(f"requested node id out of range: population '{population}' "
                              f"has {n} neurons")
        parts_t, parts_i = [], []
        for times, ids in self.iter_chunks(population, t0, t1, chunk_size):
            if wanted is not None:
                keep = np.isin(ids, wanted)
                times, ids = times[keep], ids[keep]
            parts_t.append(times)
            parts_i.append(ids)
        times = np.concatenate(parts_t) if parts_t else np.empty(0, np.float64)
        ids = np.concatenate(parts_i) if parts_i else np.empty(0, np.int64)
        if self.sorting.get(population, "by_time") != "by_time":
            order = np.lexsort((ids, times))
            times, ids = times[order], ids[order]
        return Spikes(population, times, ids, n, t0, t1)

    def read_all(self, populations: Sequence[str] | None = None,
                 t_start_ms: float | None = None, t_stop_ms: float | None = None,
                 node_ids: Iterable[int] | None = None) -> dict[str, Spikes]:
        t0, t1 = self.window(t_start_ms, t_stop_ms)
        return {p: self.read(p, t0, t1, node_ids) for p in self.select(populations)}

    # -- other groups of the same file
    def trials(self) -> dict[str, np.ndarray]:
        return _read_trials(self._h5, self.path)

    def traces(self, population: str | None = None) -> Traces:
        return _read_traces(self._h5, self.path, population)


def read_spikes(path: str | os.PathLike, population: str | Sequence[str] | None = None,
                t_start_ms: float | None = None, t_stop_ms: float | None = None,
                node_ids: Iterable[int] | None = None) -> dict[str, Spikes]:
    """Spikes of the chosen populations (all by default) keyed by population name."""
    pops = [population] if isinstance(population, str) else population
    with SpikeFile(path) as f:
        return f.read_all(pops, t_start_ms, t_stop_ms, node_ids)


# --------------------------------------------------------------------------- trials, traces

def _read_trials(h5: h5py.File, path: str) -> dict[str, np.ndarray]:
    if "trials" not in h5:
        raise AnalysisInputError(path, "group missing (this run recorded no trials)",
                                 what="/trials")
    group = h5["trials"]
    if not isinstance(group, h5py.Group):
        raise AnalysisInputError(path, "is not a group", what="/trials")
    columns: dict[str, np.ndarray] = {}
    length = None
    for name, ds in group.items():
        what = f"/trials/{name}"
        if not isinstance(ds, h5py.Dataset) or ds.ndim != 1:
            raise AnalysisInputError(path, "expected a 1-D dataset (one trial per entry)",
                                     what=what)
        if length is not None and ds.shape[0] != length:
            raise AnalysisInputError(path, f"has {ds.shape[0]} entries, other columns have "
                                     f"{length}", what=what)
        length = ds.shape[0]
        try:
            data = ds[()]
        except OSError as e:
            raise AnalysisInputError(path, f"read failed (truncated file?): {e}",
                                     what=what) from None
        columns[name] = _string_array(data) if ds.dtype.kind in "OSU" else np.asarray(data)
    return columns


def read_trials(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """``/trials`` as {column: 1-D array}; all columns have the same length."""
    path = resolve_spike_path(path)
    with open_h5(path) as h5:
        return _read_trials(h5, path)


def read_stimuli(f: "SpikeFile") -> tuple[str, dict[str, np.ndarray]]:
    """A what/when file's ``/stimuli``: the input population and, per cue, the node ids the
    cue drives (in the file's order of cues)."""
    h5 = f.h5
    if "stimuli" not in h5 or "cues" not in h5["stimuli"]:
        raise AnalysisInputError(f.path, "group missing (only what/when runs name the cells "
                                 "their stimuli drive)", what="/stimuli/cues")
    g = h5["stimuli"]
    population = _text(g.attrs.get("population", ""))
    if population not in f.populations:
        raise AnalysisInputError(f.path, f"population {population!r} is not in the file",
                                 what="/stimuli")
    n = f.size(population)
    order = _text(h5["trials"].attrs.get("cue_names", "")).split(",") if "trials" in h5 else []
    names = [c for c in order if c in g["cues"]] + sorted(set(g["cues"]) - set(order))
    cues = {}
    for name in names:
        ids = np.asarray(g["cues"][name][()], dtype=np.int64)
        if ids.ndim != 1 or (ids.size and (ids.min() < 0 or ids.max() >= n)):
            raise AnalysisInputError(f.path, f"expected node ids of {population!r} (0..{n - 1})",
                                     what=f"/stimuli/cues/{name}")
        cues[name] = np.unique(ids)
    return population, cues


def _read_traces(h5: h5py.File, path: str, population: str | None) -> Traces:
    if "traces" not in h5 or not isinstance(h5["traces"], h5py.Group):
        raise AnalysisInputError(path, "group missing (this run recorded no traces)",
                                 what="/traces")
    available = [k for k, v in h5["traces"].items() if isinstance(v, h5py.Group)]
    if population is None:
        if len(available) != 1:
            raise AnalysisInputError(path, f"choose a population, traces exist for: "
                                     f"{', '.join(available) or 'none'}", what="/traces")
        population = available[0]
    if population not in available:
        raise AnalysisInputError(path, f"no traces for population '{population}' (traces "
                                 f"exist for: {', '.join(available) or 'none'})",
                                 what="/traces")
    group = h5["traces"][population]
    base = f"/traces/{population}"
    for required in ("node_ids", "time_ms"):
        if required not in group or not isinstance(group[required], h5py.Dataset):
            raise AnalysisInputError(path, "dataset missing", what=f"{base}/{required}")
        if group[required].ndim != 1:
            raise AnalysisInputError(path, f"expected 1-D, found shape "
                                     f"{group[required].shape}", what=f"{base}/{required}")
    if group["node_ids"].dtype.kind not in "ui":
        raise AnalysisInputError(path, f"expected integers, found {group['node_ids'].dtype}",
                                 what=f"{base}/node_ids")
    if group["time_ms"].dtype.kind != "f":
        raise AnalysisInputError(path, f"expected floats, found {group['time_ms'].dtype}",
                                 what=f"{base}/time_ms")
    ids = np.asarray(group["node_ids"][()], dtype=np.int64)
    time_ms = np.asarray(group["time_ms"][()], dtype=np.float64)
    variables = {}
    for name, ds in group.items():
        if name in ("node_ids", "time_ms") or not isinstance(ds, h5py.Dataset):
            continue
        if ds.shape != (time_ms.size, ids.size):
            raise AnalysisInputError(path, f"expected shape (T, k) = ({time_ms.size}, "
                                     f"{ids.size}), found {ds.shape}", what=f"{base}/{name}")
        if ds.dtype.kind not in "fiu":
            raise AnalysisInputError(path, f"expected numbers, found {ds.dtype}",
                                     what=f"{base}/{name}")
        variables[name] = np.asarray(ds[()], dtype=np.float64)
    if not variables:
        raise AnalysisInputError(path, "holds no trace variable (v_mV, u, input)", what=base)
    return Traces(population, ids, time_ms, variables)


def read_traces(path: str | os.PathLike, population: str | None = None) -> Traces:
    """``/traces/<population>`` (the only one when population is None)."""
    path = resolve_spike_path(path)
    with open_h5(path) as h5:
        return _read_traces(h5, path, population)


# --------------------------------------------------------------------------- sweep index

_SWEEP_REQUIRED = ("point", "status", "folder")


def _numeric_or_text(values: list[str]) -> np.ndarray:
    """CSV cells as numbers when every non-empty cell parses (empty -> NaN), else text."""
    try:
        numbers = [float(v) if v.strip() != "" else math.nan for v in values]
    except ValueError:
        return np.asarray(values, dtype=object)
    array = np.asarray(numbers, dtype=np.float64)
    finite = array[np.isfinite(array)]
    if finite.size == array.size and np.all(finite == np.round(finite)):
        return array.astype(np.int64)
    return array


def read_sweep_index(folder: str | os.PathLike) -> SweepIndex:
    """A sweep folder's index: ``index.h5`` (group /points) if present, else index.csv."""
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise AnalysisInputError(folder, "no such sweep folder")
    h5_path, csv_path = os.path.join(folder, "index.h5"), os.path.join(folder, "index.csv")
    columns: dict[str, np.ndarray] = {}
    if os.path.exists(h5_path):
        source = h5_path
        with open_h5(h5_path) as h5:
            if "points" not in h5 or not isinstance(h5["points"], h5py.Group):
                raise AnalysisInputError(h5_path, "group missing", what="/points")
            for name, ds in h5["points"].items():
                if not isinstance(ds, h5py.Dataset) or ds.ndim != 1:
                    raise AnalysisInputError(h5_path, "expected a 1-D dataset",
                                             what=f"/points/{name}")
                data = ds[()]
                columns[name] = _string_array(data) if ds.dtype.kind in "OSU" else data
        # HDF5 lists members alphabetically; index.csv's header keeps the sweep's order.
        if os.path.exists(csv_path):
            with open(csv_path, newline="", encoding="utf-8") as fh:
                header = next(csv.reader(fh), [])
            rank = {name: k for k, name in enumerate(header)}
            columns = dict(sorted(columns.items(), key=lambda kv: rank.get(kv[0], len(rank))))
    elif os.path.exists(csv_path):
        source = csv_path
        with open(csv_path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        if not rows:
            raise AnalysisInputError(csv_path, "empty file (expected a header row)")
        header, body = rows[0], [r for r in rows[1:] if r]
        for line, row in enumerate(body, start=2):
            if len(row) != len(header):
                raise AnalysisInputError(csv_path, f"line {line} has {len(row)} cells, the "
                                         f"header has {len(header)}")
        for j, name in enumerate(header):
            cells = [row[j] for row in body]
            columns[name] = (np.asarray(cells, dtype=object) if name in ("status", "folder")
                             else _numeric_or_text(cells))
    else:
        raise AnalysisInputError(folder, "no index.h5 or index.csv (not a sweep folder)")
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        raise AnalysisInputError(source, "columns have different lengths")
    for required in _SWEEP_REQUIRED:
        if required not in columns:
            raise AnalysisInputError(source, f"column '{required}' missing")
    return SweepIndex(folder, columns)


# --------------------------------------------------------------------------- conversion, export

def to_neo(spikes: Spikes) -> list:
    """One ``neo.SpikeTrain`` per neuron (silent ones included, list index = node id),
    annotated with population and node_id. Needs python3-neo."""
    try:
        import neo
        import quantities as pq
    except ImportError as e:
        raise ImportError("to_neo needs the Debian package python3-neo") from e
    order = np.argsort(spikes.node_ids, kind="stable")  # keeps time order within a neuron
    ids, times = spikes.node_ids[order], spikes.times_ms[order]
    bounds = np.searchsorted(ids, np.arange(spikes.n_neurons + 1))
    return [neo.SpikeTrain(times[bounds[i]:bounds[i + 1]] * pq.ms,
                           t_start=spikes.t_start_ms * pq.ms, t_stop=spikes.t_stop_ms * pq.ms,
                           name=f"{spikes.population}[{i}]",
                           population=spikes.population, node_id=i)
            for i in range(spikes.n_neurons)]


def export_csv(spike_file: SpikeFile, out_path: str | os.PathLike,
               populations: Sequence[str] | None = None, t_start_ms: float | None = None,
               t_stop_ms: float | None = None) -> int:
    """Write ``population,node_id,time_ms`` rows (times printed round-trip exact),
    streaming chunk by chunk. Returns the number of spikes written."""
    t0, t1 = spike_file.window(t_start_ms, t_stop_ms)
    pops = spike_file.select(populations)
    written = 0
    with open(out_path, "w", encoding="utf-8", newline="") as out:
        out.write("population,node_id,time_ms\n")
        for pop in pops:
            sorted_in_file = spike_file.sorting.get(pop, "by_time") == "by_time"
            chunks = (spike_file.iter_chunks(pop, t0, t1) if sorted_in_file else
                      [(s.times_ms, s.node_ids) for s in [spike_file.read(pop, t0, t1)]])
            for times, ids in chunks:
                out.writelines(f"{pop},{i},{t!r}\n" for i, t in zip(ids.tolist(),
                                                                    times.tolist()))
                written += times.size
    return written


def _npz_member(zf, name: str, dtype, n: int, chunks) -> None:
    """Writes one .npy member of length n into an open zip file from an iterable of
    array chunks, never holding more than a chunk."""
    dtype = np.dtype(dtype)
    written = 0
    with zf.open(name + ".npy", "w", force_zip64=True) as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
                 "shape": (n,)})
        for chunk in chunks:
            chunk = np.ascontiguousarray(chunk, dtype=dtype)
            fh.write(chunk.tobytes())
            written += chunk.size
    if written != n:  # the file changed between passes (a run still writing it)
        raise AnalysisInputError(zf.filename, f"{name}: wrote {written} values, counted {n} "
                                 f"(did the spike file change while exporting?)")


def export_npz(spike_file: SpikeFile, out_path: str | os.PathLike,
               populations: Sequence[str] | None = None, t_start_ms: float | None = None,
               t_stop_ms: float | None = None, chunk_size: int = DEFAULT_CHUNK) -> int:
    """Write flat arrays: times_ms, node_ids, population (index into population_names),
    population_names, population_sizes, t_start_ms, t_stop_ms. Returns the spike count.

    The file is the uncompressed .npz np.savez writes, built member by member: the
    window is read chunk by chunk in three passes (count, times, ids), so memory does
    not grow with the number of spikes (except for populations not sorted by time,
    whose window is read and sorted in memory, as for CSV)."""
    import zipfile

    t0, t1 = spike_file.window(t_start_ms, t_stop_ms)
    pops = spike_file.select(populations)
    out_path = os.fspath(out_path)
    if not out_path.endswith(".npz"):
        out_path += ".npz"  # as np.savez does

    def chunks(pop: str):
        if spike_file.sorting.get(pop, "by_time") == "by_time":
            yield from spike_file.iter_chunks(pop, t0, t1, chunk_size)
        else:
            s = spike_file.read(pop, t0, t1)
            yield s.times_ms, s.node_ids

    counts = [sum(t.size for t, _ in chunks(p)) for p in pops]
    total = int(sum(counts))
    with zipfile.ZipFile(out_path, "w", compression=zipfile.ZIP_STORED,
                         allowZip64=True) as zf:
        _npz_member(zf, "times_ms", np.float64, total, (t for p in pops for t, _ in chunks(p)))
        _npz_member(zf, "node_ids", np.int64, total, (i for p in pops for _, i in chunks(p)))
        _npz_member(zf, "population", np.int32, total,
                    (np.full(c, k, np.int32) for k, c in enumerate(counts)))
        small = {"population_names": np.asarray(pops, dtype=str),
                 "population_sizes": np.asarray([spike_file.size(p) for p in pops],
                                                dtype=np.int64),
                 "t_start_ms": np.float64(t0), "t_stop_ms": np.float64(t1)}
        for name, value in small.items():
            with zf.open(name + ".npy", "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, np.asanyarray(value), allow_pickle=False)
    return total
