"""Timing of the analysis readers on a large spike file (not a test; opt-in).

    /usr/bin/python3 bench/analysis_large_file.py [N_SPIKES] [FOLDER]

Writes a by_time SONATA file of N_SPIKES (default 10 million) spikes of 10000 neurons
at the engine's layout (chunked, 1 << 16 spikes per HDF5 chunk), then times a 100 ms
window read, a raster-style read of 200 neurons over 1 s, the streamed summary, ISI/CV
histograms, PSTH (an event every 100 ms) and .npz export of the whole file, and prints
the peak resident memory after each step.
"""

import os
import resource
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from analysis.io import SpikeFile  # noqa: E402
from analysis.io import export_npz  # noqa: E402
from analysis.stats import isi_cv_streamed, psth_streamed, summarize  # noqa: E402


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def write(path: str, n_spikes: int, n_neurons: int = 10000, dt_ms: float = 0.1) -> float:
    rate_per_step = n_spikes / 100000  # spread over 100000 steps (10 s at 0.1 ms)
    rng = np.random.default_rng(1)
    enum = h5py.enum_dtype({"none": 0, "by_id": 1, "by_time": 2}, basetype="u1")
    block_steps = 5000
    with h5py.File(path, "w") as f:
        f.attrs.create("magic", np.uint32(0x0A7A))
        f.attrs.create("version", np.array([0, 1], np.uint32))
        g = f.create_group("spikes/exc")
        g.attrs.create("sorting", 2, dtype=enum)
        ts = g.create_dataset("timestamps", (0,), "f8", maxshape=(None,), chunks=(1 << 16,))
        ids = g.create_dataset("node_ids", (0,), "u8", maxshape=(None,), chunks=(1 << 16,))
        for first in range(0, 100000, block_steps):
            per_step = rng.poisson(rate_per_step, block_steps)
            steps = np.repeat(np.arange(first, first + block_steps), per_step)
            nid = np.concatenate([np.sort(rng.choice(n_neurons, k, replace=False))
                                  for k in per_step])
            n0 = ts.shape[0]
            ts.resize((n0 + steps.size,))
            ids.resize((n0 + steps.size,))
            ts[n0:] = steps * dt_ms
            ids[n0:] = nid
        r = f.create_group("run")
        r.attrs.create("dt_ms", dt_ms)
        r.attrs.create("duration_ms", 10000.0)
        r.attrs.create("steps_done", np.uint64(100000))
        r.attrs.create("complete", np.uint8(1))
        r.create_dataset("population_names", data=["exc"], dtype=h5py.string_dtype())
        r.create_dataset("population_sizes", data=np.array([n_neurons], np.uint32))
        return ts.shape[0]


def main() -> None:
    if sys.argv[1:2] == ["--write"]:
        t = time.perf_counter()
        written = write(sys.argv[3], int(sys.argv[2]))
        print(f"wrote {written} spikes ({os.path.getsize(sys.argv[3]) / 2**20:.0f} MiB) in "
              f"{time.perf_counter() - t:.1f} s")
        return
    n = int(float(sys.argv[1])) if len(sys.argv) > 1 else 10_000_000
    folder = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp()
    path = os.path.join(folder, "large_spikes.h5")
    # Written by a child process so the memory figures below are the readers' alone.
    subprocess.run([sys.executable, os.path.abspath(__file__), "--write", str(n), path],
                   check=True)
    base = peak_mb()
    with SpikeFile(path) as f:
        t = time.perf_counter()
        s = f.read("exc", 5000.0, 5100.0)
        print(f"window [5000, 5100) ms: {s.n_spikes} spikes in "
              f"{1e3 * (time.perf_counter() - t):.1f} ms; peak RSS {peak_mb():.0f} MB")
        t = time.perf_counter()
        s = f.read("exc", 2000.0, 3000.0, node_ids=np.arange(0, 10000, 50))
        print(f"200 neurons over [2000, 3000) ms: {s.n_spikes} spikes in "
              f"{1e3 * (time.perf_counter() - t):.1f} ms; peak RSS {peak_mb():.0f} MB")
        t = time.perf_counter()
        summary = summarize(f)
        p = summary["populations"]["exc"]
        print(f"streamed summary of all {p['n_spikes']} spikes in "
              f"{time.perf_counter() - t:.1f} s (rate {p['mean_rate_hz']:.2f} Hz, CV "
              f"{p['cv_isi_mean']:.3f}, Fano {p['fano_factor']:.3f}); peak RSS "
              f"{peak_mb():.0f} MB (before reading: {base:.0f} MB)")
        t = time.perf_counter()
        isi = isi_cv_streamed(f)["exc"]
        print(f"streamed ISI/CV: {int(isi['isi_counts'].sum())} intervals in "
              f"{time.perf_counter() - t:.1f} s; peak RSS {peak_mb():.0f} MB")
        t = time.perf_counter()
        h = psth_streamed(f, "exc", {"all": np.arange(100.0, 9500.0, 100.0)})["all"]
        print(f"streamed PSTH of {h.n_events} events: {int(h.counts.sum())} spikes in "
              f"{time.perf_counter() - t:.1f} s; peak RSS {peak_mb():.0f} MB")
        t = time.perf_counter()
        n_npz = export_npz(f, path + ".npz")
        print(f"streamed .npz export of {n_npz} spikes in {time.perf_counter() - t:.1f} s; "
              f"peak RSS {peak_mb():.0f} MB")
        os.remove(path + ".npz")
    os.remove(path)


if __name__ == "__main__":
    main()
