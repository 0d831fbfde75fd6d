"""Test-side writer of result files, following the layout contract the C++ SONATA sink
implements (written with plain h5py, independently of the reader under test)."""

from __future__ import annotations

import csv
import os

import h5py
import numpy as np

SORTING_ENUM = h5py.enum_dtype({"none": 0, "by_id": 1, "by_time": 2}, basetype="u1")
SORTING_VALUES = {"none": 0, "by_id": 1, "by_time": 2}


def poisson_spikes(rng: np.random.Generator, n_neurons: int, rate_hz: float,
                   duration_ms: float, dt_ms: float = 0.1):
    """Bernoulli-per-step approximation of Poisson trains on the dt grid, like a
    clock-driven simulator produces: (times_ms, node_ids), time-ordered, ties by id."""
    n_steps = int(round(duration_ms / dt_ms))
    p = rate_hz * dt_ms * 1e-3
    count = rng.binomial(n_neurons * n_steps, p)
    flat = rng.choice(n_neurons * n_steps, size=count, replace=False)
    steps, ids = flat // n_neurons, flat % n_neurons
    order = np.lexsort((ids, steps))
    return steps[order] * dt_ms, ids[order].astype(np.uint64)


def order_spikes(times, ids, sorting: str):
    times, ids = np.asarray(times, np.float64), np.asarray(ids, np.uint64)
    if sorting == "by_time":
        order = np.lexsort((ids, times))
    elif sorting == "by_id":
        order = np.lexsort((times, ids))
    else:  # "none": a fixed shuffle
        order = np.random.default_rng(99).permutation(times.size)
    return times[order], ids[order]


def write_spike_file(path, populations: dict, *, sorting: str = "by_time",
                     sorting_as: str = "enum", run: bool = True, complete: int = 1,
                     duration_ms: float = 1000.0, dt_ms: float = 0.1,
                     steps_done: int | None = None, chunk: int = 4096, magic: int = 0x0A7A,
                     trials: dict | None = None, traces: dict | None = None,
                     run_populations: dict | None = None) -> str:
    """populations: {name: (times_ms, node_ids, size)}. sorting_as: "enum" (the
    engine's uint8 enum), "string", "int" (no enum metadata) or "absent"."""
    with h5py.File(path, "w") as f:
        if magic is not None:
            f.attrs.create("magic", np.uint32(magic))
        f.attrs.create("version", np.array([0, 1], dtype=np.uint32))
        spikes = f.create_group("spikes")
        for name, (times, ids, _size) in populations.items():
            times, ids = order_spikes(times, ids, sorting)
            g = spikes.create_group(name)
            if sorting_as == "enum":
                g.attrs.create("sorting", SORTING_VALUES[sorting], dtype=SORTING_ENUM)
            elif sorting_as == "string":
                g.attrs["sorting"] = sorting
            elif sorting_as == "int":
                g.attrs.create("sorting", np.uint8(SORTING_VALUES[sorting]))
            c = max(1, min(chunk, times.size)) if times.size else None
            ts = g.create_dataset("timestamps", data=times, dtype="f8", chunks=(c,) if c else None,
                                  maxshape=(None,))
            ts.attrs["units"] = "ms"
            g.create_dataset("node_ids", data=ids, dtype="u8", chunks=(c,) if c else None,
                             maxshape=(None,))
        if run:
            r = f.create_group("run")
            r.attrs.create("seed", np.uint64(1234))
            r.attrs.create("dt_ms", np.float64(dt_ms))
            r.attrs.create("duration_ms", np.float64(duration_ms))
            steps = int(round(duration_ms / dt_ms)) if steps_done is None else steps_done
            r.attrs.create("steps_done", np.uint64(steps))
            r.attrs.create("complete", np.uint8(complete))
            r.attrs["engine_version"] = "0.1.0"
            r.attrs["git_hash"] = "abc1234"
            r.attrs["experiment"] = "test"
            r.attrs.create("threads", np.int32(2))
            r.attrs["config_toml"] = "[run]\nseed = 1234\n"
            sizes = run_populations or {n: s for n, (_, _, s) in populations.items()}
            r.create_dataset("population_names", data=list(sizes),
                             dtype=h5py.string_dtype("utf-8"))
            r.create_dataset("population_sizes", data=np.asarray(list(sizes.values()),
                                                                 dtype=np.uint32))
        if trials is not None:
            t = f.create_group("trials")
            for k, v in trials.items():
                t.create_dataset(k, data=v)
        if traces is not None:
            tr = f.create_group("traces")
            for pop, cols in traces.items():
                g = tr.create_group(pop)
                for k, v in cols.items():
                    g.create_dataset(k, data=v)
    return os.fspath(path)


def write_sweep(folder, rows: list[dict], *, h5: bool = True, csv_file: bool = True):
    """rows: dicts with point, status, seed, folder, param.*, metric.* (same keys)."""
    os.makedirs(folder, exist_ok=True)
    keys = list(rows[0])
    if csv_file:
        with open(os.path.join(folder, "index.csv"), "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(keys)
            for row in rows:
                w.writerow(["" if isinstance(row[k], float) and np.isnan(row[k]) else row[k]
                            for k in keys])
    if h5:
        with h5py.File(os.path.join(folder, "index.h5"), "w") as f:
            g = f.create_group("points")
            for k in keys:
                values = [row[k] for row in rows]
                if isinstance(values[0], str):
                    g.create_dataset(k, data=values, dtype=h5py.string_dtype("utf-8"))
                else:
                    g.create_dataset(k, data=np.asarray(values))
