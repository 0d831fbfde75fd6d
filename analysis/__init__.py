"""snnsim analysis: read, plot and export SONATA spike files and run results.

Readers live in ``analysis.io``, the numbers behind the figures in ``analysis.stats``,
the figures in ``analysis.plots`` and the command line in ``analysis.cli``
(``python3 -m analysis --help``). Plotting modules import matplotlib lazily, so
reading and exporting do not need it.
"""

from .errors import AnalysisInputError
from .io import (RunInfo, SpikeFile, Spikes, SweepIndex, Traces, export_csv, export_npz,
                 read_run, read_spikes, read_sweep_index, read_traces, read_trials, to_neo)

__all__ = ["AnalysisInputError", "RunInfo", "SpikeFile", "Spikes", "SweepIndex", "Traces",
           "export_csv", "export_npz", "read_run", "read_spikes", "read_sweep_index",
           "read_traces", "read_trials", "to_neo"]
