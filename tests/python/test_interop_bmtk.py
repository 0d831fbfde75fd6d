"""Interoperability with an independent SONATA implementation: the Allen Institute's
Brain Modeling Toolkit (Debian package python3-bmtk). bmtk reads files laid out like
the engine writes them, and we read files bmtk writes; both must agree spike for spike.
"""

import h5py
import numpy as np
import pytest

from analysis import io as aio
from sonata_files import poisson_spikes, write_spike_file

spike_trains = pytest.importorskip("bmtk.utils.reports.spike_trains")
readers = pytest.importorskip("bmtk.utils.reports.spike_trains.spike_train_readers")


def pairs(times, ids):
    """Spikes as a sorted list of (time, node id) for exact comparison."""
    return sorted(zip(np.asarray(times, np.float64).tolist(), np.asarray(ids).astype(int).tolist()))


@pytest.mark.parametrize("sorting", ["by_time", "by_id"])
def test_bmtk_reads_our_layout_spike_for_spike(tmp_path, sorting):
    rng = np.random.default_rng(31)
    pops = {"exc": (*poisson_spikes(rng, 50, 15.0, 800.0), 50),
            "inh": (*poisson_spikes(rng, 12, 40.0, 800.0), 12)}
    path = write_spike_file(tmp_path / "spikes.h5", pops, sorting=sorting, duration_ms=800.0)
    bmtk = readers.SonataSTReader(path)
    assert sorted(bmtk.populations) == ["exc", "inh"]
    ours = aio.read_spikes(path)
    for pop, (times, ids, _) in pops.items():
        df = bmtk.to_dataframe(populations=pop, with_population_col=False)
        theirs = pairs(df["timestamps"].to_numpy(), df["node_ids"].to_numpy())
        assert theirs == pairs(ours[pop].times_ms, ours[pop].node_ids) == pairs(times, ids)
        assert bmtk.units(pop) == "ms"
        # Per-neuron access agrees as well.
        for node in (0, 7, 11):
            want = ours[pop].times_ms[ours[pop].node_ids == node]
            np.testing.assert_array_equal(np.sort(np.asarray(bmtk.get_times(node, pop))), want)


@pytest.mark.parametrize("order", ["by_time", "by_id", "none"])
def test_we_read_files_bmtk_writes(tmp_path, order):
    rng = np.random.default_rng(32)
    times, ids = poisson_spikes(rng, 40, 20.0, 500.0)
    st = spike_trains.SpikeTrains(population="v1")
    st.add_spikes(node_ids=ids.astype(np.int64), timestamps=times, population="v1")
    path = tmp_path / "bmtk.h5"
    st.to_sonata(str(path), sort_order=getattr(spike_trains.sort_order, order))
    with aio.SpikeFile(path) as f:  # bmtk writes sorting as a string, ids as int64, no /run
        assert f.populations == ["v1"] and f.sorting["v1"] == order
        s = f.read("v1", 100.0, 400.0)
    m = (times >= 100.0) & (times < 400.0)
    assert pairs(s.times_ms, s.node_ids) == pairs(times[m], ids[m])
    assert np.all(np.diff(s.times_ms) >= 0)


def test_bmtk_reads_a_file_the_engine_wrote(tmp_path):
    """The file of a real `snnsim run` (the C++ writer, not the test-side one above)."""
    from engine import snnsim, write_config

    config = write_config(tmp_path)
    r = snnsim("run", config.name, "--out", "run", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    path = str(tmp_path / "run" / "spikes.h5")
    bmtk = readers.SonataSTReader(path)
    assert sorted(bmtk.populations) == ["exc", "inh"]
    with h5py.File(path, "r") as f:
        raw = {p: (f[f"spikes/{p}/timestamps"][()], f[f"spikes/{p}/node_ids"][()])
               for p in ("exc", "inh")}
    for pop, (times, ids) in raw.items():
        assert times.size > 20
        df = bmtk.to_dataframe(populations=pop, with_population_col=False)
        assert pairs(df["timestamps"].to_numpy(), df["node_ids"].to_numpy()) == \
            pairs(times, ids)
        assert bmtk.units(pop) == "ms"
        assert bmtk.n_spikes(population=pop) == times.size
        for node in np.unique(ids)[:5]:
            np.testing.assert_array_equal(np.sort(np.asarray(bmtk.get_times(int(node), pop))),
                                          times[ids == node])
