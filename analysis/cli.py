"""Command line: ``python3 -m analysis <subcommand> ...`` (``snnsim plot`` forwards here).

Bad input ends with one line ``<prog>: error: <file>: <what is wrong>`` on stderr and
exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Sequence

import numpy as np

from .errors import AnalysisInputError
from .io import SpikeFile, export_csv, export_npz, read_sweep_index, resolve_spike_path
from .what_when import COMMANDS as what_when_commands

# snnsim sets this so usage lines read "snnsim plot raster ...".
PROG = os.environ.get("SNNSIM_PROG", "python3 -m analysis")


# --------------------------------------------------------------------------- argument types

def _checked(text: str, cast, kind: str, ok, requirement: str):
    """Parses text with cast; argparse errors say what kind was expected or which bound failed."""
    try:
        value = cast(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not {kind}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"{requirement}, got {text}")
    return value


def _positive(text: str) -> float:
    return _checked(text, float, "a number", lambda v: v > 0 and math.isfinite(v), "must be positive")


def _non_negative(text: str) -> float:
    return _checked(text, float, "a number", lambda v: v >= 0 and math.isfinite(v),
                    "must be a number >= 0")


def _positive_int(text: str) -> int:
    return _checked(text, int, "an integer", lambda v: v >= 1, "must be at least 1")


def _populations(values: Sequence[str] | None) -> list[str] | None:
    """-p a -p b and -p a,b both select populations a and b."""
    if not values:
        return None
    return [p.strip() for v in values for p in v.split(",") if p.strip()]


def _default_output(source: str, name: str) -> str:
    """<input name>_<name>.png in the current folder; a run folder (or its spikes.h5)
    is named after the folder."""
    source = os.path.abspath(os.path.normpath(source))
    if os.path.isdir(source):
        stem = os.path.basename(source)
    else:
        stem = os.path.splitext(os.path.basename(source))[0]
        if stem == "spikes":
            stem = os.path.basename(os.path.dirname(source)) or stem
    return f"{stem}_{name}.png"


# --------------------------------------------------------------------------- parser

def _add_common(p: argparse.ArgumentParser, window: bool = True, pops: bool = True,
                figure: bool = True) -> None:
    p.add_argument("file", metavar="FILE", help="spike file (SONATA .h5) or a run folder "
                   "holding spikes.h5")
    if figure:
        p.add_argument("-o", "--output", metavar="OUT", help="figure file: .png, .pdf or "
                       ".svg (default: <input name>_<subcommand>.png in the current folder)")
        p.add_argument("--dpi", type=_positive_int, default=150, help="resolution of PNG "
                       "output (default 150)")
        p.add_argument("--title", help="figure title (default: describes the plot)")
    if window:
        p.add_argument("--t-start", type=float, metavar="MS", help="window start in ms "
                       "(default 0)")
        p.add_argument("--t-stop", type=float, metavar="MS", help="window end in ms, "
                       "exclusive (default: the simulated duration from /run)")
    if pops:
        p.add_argument("-p", "--population", action="append", metavar="POP",
                       help="population(s) to include, repeatable or comma separated "
                       "(default: all)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Read, plot and export snnsim spike files (SONATA HDF5).",
        epilog="Every subcommand has --help. Spike windows are half-open [t-start, t-stop).")
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND", required=True)

    p = sub.add_parser("raster", help="spike raster, populations coloured",
                       description="Spike raster of one or more populations; large networks "
                       "are subsampled to --max-neurons evenly spread neurons.")
    _add_common(p)
    p.add_argument("--max-neurons", type=_positive_int, default=2000,
                   help="most neurons shown, shared among populations in proportion to "
                   "their size (default 2000)")
    p.add_argument("--marker-size", type=_positive, default=2.0,
                   help="marker area in points² (default 2)")
    p.add_argument("--by-stimulus", action="store_true",
                   help="what/when runs: the input population in one band per cue (the cells "
                   "/stimuli says it drives), then the other cells")

    p = sub.add_parser("rate", help="population rate over time and its power spectrum",
                       description="Mean rate per neuron in bins, and the Welch power "
                       "spectrum of that rate with the alpha (8-13 Hz) and gamma (30-80 Hz) "
                       "bands marked; prints the peak of each band.")
    _add_common(p)
    p.add_argument("--bin-ms", type=_positive, default=1.0, help="bin width (default 1 ms)")
    p.add_argument("--smooth-ms", type=_non_negative, default=0.0, help="Gaussian smoothing "
                   "sigma for the rate trace (default 0: none; the spectrum is never smoothed)")
    p.add_argument("--segment-ms", type=_positive, default=1000.0, help="Welch segment "
                   "length (default 1000 ms, i.e. 1 Hz resolution)")
    p.add_argument("--max-freq", type=_positive, default=100.0, help="highest frequency "
                   "shown (default 100 Hz)")
    p.add_argument("--no-spectrum", action="store_true", help="only the rate over time")

    p = sub.add_parser("rate-hist", help="histogram of per-neuron firing rates",
                       description="Histogram of the firing rate of every neuron, silent "
                       "neurons included (population sizes come from /run).")
    _add_common(p)
    p.add_argument("--bins", type=_positive_int, default=30, help="number of bins (default 30)")

    p = sub.add_parser("isi", help="ISI and CV-of-ISI distributions",
                       description="Distribution of inter-spike intervals, and of the "
                       "coefficient of variation of each neuron's ISIs.")
    _add_common(p)
    p.add_argument("--isi-bins", type=_positive_int, default=50, help="ISI bins (default 50)")
    p.add_argument("--isi-max-ms", type=_positive, help="largest ISI shown (default: the "
                   "largest one)")
    p.add_argument("--cv-bins", type=_positive_int, default=30, help="CV bins (default 30)")
    p.add_argument("--min-spikes", type=_positive_int, default=3, help="neurons with fewer "
                   "spikes get no CV (default 3)")

    p = sub.add_parser("psth", help="PSTH aligned to trial events from /trials",
                       description="Peri-stimulus time histogram aligned to a time column of "
                       "/trials (non-finite entries, e.g. omitted outcomes, are skipped).")
    _add_common(p, window=False)
    p.add_argument("--align", default="start_ms", metavar="COLUMN", help="/trials column "
                   "with the event times in ms (default start_ms)")
    p.add_argument("--pre-ms", type=_non_negative, default=100.0, help="time shown before "
                   "each event (default 100 ms)")
    p.add_argument("--post-ms", type=_positive, default=500.0, help="time shown after each "
                   "event (default 500 ms)")
    p.add_argument("--bin-ms", type=_positive, default=10.0, help="bin width (default 10 ms)")
    p.add_argument("--group-by", metavar="COLUMN", help="one line per value of this /trials "
                   "column (e.g. cue)")
    p.add_argument("--where", action="append", metavar="COLUMN=VALUE", help="keep only "
                   "trials where COLUMN equals VALUE (repeatable, e.g. occurred=1)")

    p = sub.add_parser("traces", help="membrane traces from /traces",
                       description="Recorded variables (v_mV, u, input) of a few neurons.")
    _add_common(p, pops=False)
    p.add_argument("-p", "--population", help="population (default: the only one recorded)")
    p.add_argument("--var", default="v_mV", help="variable: v_mV, u or input (default v_mV)")
    p.add_argument("--neurons", type=int, nargs="+", metavar="ID", help="node ids to show "
                   "(default: the first --max-neurons recorded)")
    p.add_argument("--max-neurons", type=_positive_int, default=5, help="default 5")

    p = sub.add_parser("sweep", help="a sweep metric against a swept parameter",
                       description="A metric of index.h5/index.csv against a swept "
                       "parameter, one line per value of another; repeats are averaged "
                       "(error bars: std); only points with status 'done' are used.")
    p.add_argument("folder", metavar="SWEEP_DIR", help="sweep folder with index.h5 or "
                   "index.csv")
    p.add_argument("-o", "--output", metavar="OUT", help="figure file: .png, .pdf or .svg "
                   "(default: <folder name>_sweep.png)")
    p.add_argument("--dpi", type=_positive_int, default=150)
    p.add_argument("--title")
    p.add_argument("--metric", required=True, help="metric column (metric.NAME or NAME)")
    p.add_argument("--x", required=True, help="parameter on the x axis (param.KEY or KEY)")
    p.add_argument("--by", help="one line per value of this parameter")

    for name, what in (("nmda-errors", "segment FP/FN rates vs theory against θ"),
                       ("nmda-sequence", "sequence prediction precision/recall against θ")):
        p = sub.add_parser(name, help=what, description=f"NMDA-threshold sweep: {what}.")
        p.add_argument("folder", metavar="SWEEP_DIR", help="sweep folder with index.h5/.csv")
        p.add_argument("-o", "--output", metavar="OUT", help="figure file (default: "
                       f"<folder name>_{name.replace('-', '_')}.png)")
        p.add_argument("--dpi", type=_positive_int, default=150)
        p.add_argument("--title")
        p.add_argument("--theta", default="nmda.theta", help="θ parameter (default nmda.theta)")
        if name == "nmda-errors":
            p.add_argument("--fp-max", type=_positive, default=1e-3, help="FP level (1e-3)")
            p.add_argument("--fn-max", type=_positive, default=1e-3, help="FN level (1e-3)")
            p.add_argument("--source", choices=("theory", "empirical"), default="theory",
                           help="judge the good region on theory or on upper 95 %% limits")

    p = sub.add_parser("summary", help="rates, CVs, synchrony and counts per population",
                       description="Spike counts, mean rate (silent neurons included), CV of "
                       "ISI and population Fano factor per population; streams the file.")
    _add_common(p, figure=False)
    p.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")
    p.add_argument("--fano-bin-ms", type=_positive, default=10.0, help="bin of the population "
                   "spike count for the Fano factor (default 10 ms)")
    p.add_argument("--min-spikes", type=_positive_int, default=3, help="neurons with fewer "
                   "spikes get no CV (default 3)")

    p = sub.add_parser("export", help="export spikes to CSV or .npz",
                       description="CSV: population,node_id,time_ms (streamed). NPZ: arrays "
                       "times_ms, node_ids, population (index into population_names), "
                       "population_names, population_sizes, t_start_ms, t_stop_ms.")
    _add_common(p, figure=False)
    p.add_argument("-o", "--output", metavar="OUT", required=True, help="output .csv or .npz")
    from . import sparsey
    sparsey.add_parsers(sub, _add_common, _positive_int)
    from . import what_when
    what_when.add_parsers(sub, _add_common, _positive_int)
    return parser


# --------------------------------------------------------------------------- commands

def _output(args, name: str) -> str:
    from .plots import check_output
    source = getattr(args, "file", None) or args.folder
    return check_output(args.output or _default_output(source, name))


def _save(fig, args, out: str) -> None:
    import matplotlib.pyplot as plt
    from .plots import save_figure
    try:
        save_figure(fig, out, dpi=args.dpi)
    finally:
        plt.close(fig)  # a command draws one figure; in-process callers (tests) run many
    print(f"wrote {out}")


def _spike_summary_line(spikes) -> str:
    s0 = next(iter(spikes.values()))
    parts = ", ".join(f"{p}: {s.n_spikes} spikes / {s.n_neurons} neurons"
                      for p, s in spikes.items())
    return f"[{s0.t_start_ms:g}, {s0.t_stop_ms:g}) ms, {parts}"


def cmd_raster(args) -> None:
    from .plots import choose_raster_neurons, plot_raster
    out = _output(args, "raster")
    with SpikeFile(args.file) as f:
        pops = f.select(_populations(args.population))
        t0, t1 = f.window(args.t_start, args.t_stop)
        if args.by_stimulus:
            from .io import read_stimuli
            from .plots import split_by_groups
            population, cues = read_stimuli(f)
            if population not in pops:
                raise AnalysisInputError(f.path, f"--by-stimulus: the stimuli drive "
                                         f"{population!r}, which --population leaves out")
            # Read whole and split into bands; plot_raster subsamples each band.
            spikes = split_by_groups({p: f.read(p, t0, t1) for p in pops}, population, cues)
        else:
            # Only the neurons shown are kept while reading, so memory follows the figure.
            shown = choose_raster_neurons({p: f.size(p) for p in pops}, args.max_neurons)
            spikes = {p: f.read(p, t0, t1, node_ids=None if shown[p].size == f.size(p)
                                else shown[p]) for p in pops}
    fig, _ = plot_raster(spikes, args.max_neurons, args.marker_size, args.title)
    print(f"raster {_spike_summary_line(spikes)}")
    _save(fig, args, out)


def _stream_counts(args, bin_ms: float = 1.0):
    """Per-population Counts read chunk by chunk: memory follows neurons and bins."""
    from .stats import count_spikes_streamed
    with SpikeFile(args.file) as f:
        t0, t1 = f.window(args.t_start, args.t_stop)
        return {p: count_spikes_streamed(f, p, t0, t1, bin_ms)
                for p in f.select(_populations(args.population))}


def cmd_rate(args) -> None:
    from .plots import plot_rate
    out = _output(args, "rate")
    counts = _stream_counts(args, args.bin_ms)
    fig, data = plot_rate(counts, args.bin_ms, args.smooth_ms, args.segment_ms, args.max_freq,
                          spectrum=not args.no_spectrum, title=args.title)
    for pop, d in data.items():
        peaks = "  ".join(f"{band} peak {f:.1f} Hz" for band, (f, _) in d["peaks"].items()
                          if math.isfinite(f))
        print(f"{pop}: mean rate {counts[pop].rate_hz.mean():.3g} Hz  {peaks}")
    _save(fig, args, out)


def cmd_rate_hist(args) -> None:
    from .plots import plot_rate_histogram
    out = _output(args, "rate_hist")
    fig, _ = plot_rate_histogram(_stream_counts(args), args.bins, args.title)
    _save(fig, args, out)


def cmd_isi(args) -> None:
    from .plots import draw_isi_cv
    from .stats import isi_cv_streamed
    out = _output(args, "isi")
    with SpikeFile(args.file) as f:
        t0, t1 = f.window(args.t_start, args.t_stop)
        data = isi_cv_streamed(f, _populations(args.population), t0, t1, args.isi_bins,
                               args.isi_max_ms, args.cv_bins, args.min_spikes)
    fig = draw_isi_cv(data, args.min_spikes, args.title or f"ISI and CV [{t0:g}, {t1:g}) ms")
    _save(fig, args, out)


def _trial_column(trials: dict, name: str, path: str) -> np.ndarray:
    if name not in trials:
        raise AnalysisInputError(path, f"no column '{name}' (columns: "
                                 f"{', '.join(trials) or 'none'})", what="/trials")
    return trials[name]


def _matches(column: np.ndarray, value: str) -> np.ndarray:
    if column.dtype.kind in "fiub":
        try:
            return column.astype(np.float64) == float(value)
        except ValueError:
            return np.zeros(column.size, bool)
    return np.asarray([str(c) == value for c in column], dtype=bool)


def cmd_psth(args) -> None:
    from .plots import draw_psth
    from .stats import psth_streamed
    out = _output(args, "psth")
    with SpikeFile(args.file) as f:
        trials = f.trials()
        events = _trial_column(trials, args.align, f.path)
        if events.dtype.kind not in "fiu":
            raise AnalysisInputError(f.path, f"expected times in ms, found {events.dtype}",
                                     what=f"/trials/{args.align}")
        events = events.astype(np.float64)
        keep = np.isfinite(events)
        for condition in args.where or []:
            if "=" not in condition:
                raise AnalysisInputError(None, f"--where expects COLUMN=VALUE, got "
                                         f"'{condition}'")
            col, value = condition.split("=", 1)
            keep &= _matches(_trial_column(trials, col.strip(), f.path), value.strip())
        groups = None
        if args.group_by:
            groups = _trial_column(trials, args.group_by, f.path)[keep]
        events = events[keep]
        if events.size == 0:
            raise AnalysisInputError(f.path, f"no trial left to align to (column "
                                     f"'{args.align}' after the --where filters)",
                                     what="/trials")
        # The same groups as plots.psth_data, counted chunk by chunk from the file.
        by_group = {"all": events} if groups is None else {
            g: events[groups == g] for g in sorted(set(groups.tolist()), key=str)}
        data = {p: psth_streamed(f, p, by_group, args.pre_ms, args.post_ms, args.bin_ms)
                for p in f.select(_populations(args.population))}
    fig = draw_psth(data, groups is not None, args.group_by or "", args.align, args.bin_ms,
                    args.title)
    print(f"psth: {events.size} events from /trials/{args.align}, "
          f"{', '.join(data)}")
    _save(fig, args, out)


def cmd_traces(args) -> None:
    from .plots import plot_traces
    out = _output(args, "traces")
    path = resolve_spike_path(args.file)
    from .io import read_traces
    traces = read_traces(path, args.population)
    fig, data = plot_traces(traces, args.var, args.neurons, args.max_neurons, args.t_start,
                            args.t_stop, path, args.title)
    print(f"traces: {traces.population}, {data['node_ids'].size} neurons, "
          f"{data['time_ms'].size} samples")
    _save(fig, args, out)


def cmd_sweep(args) -> None:
    from .plots import plot_sweep
    out = _output(args, "sweep")
    index = read_sweep_index(args.folder)
    fig, data = plot_sweep(index, args.metric, args.x, args.by, args.title)
    print(f"sweep: {data['metric']} against {data['x']}"
          f"{' by ' + data['by'] if data['by'] else ''}, {data['n_done']} of "
          f"{data['n_points']} points done")
    _save(fig, args, out)


def cmd_nmda(args) -> None:
    from . import nmda
    out = _output(args, args.command.replace("-", "_"))
    index = read_sweep_index(args.folder)
    if args.command == "nmda-errors":
        fig, data = nmda.plot_errors(index, args.fp_max, args.fn_max, args.theta, args.title,
                                     args.source)
        for key, good in data["good"].items():
            print(f"{nmda._label(key)}: good θ {', '.join(f'{t:g}' for t in good) or 'none'}")
    else:
        fig, data = nmda.plot_sequence(index, args.theta, args.title)
        for key, s in data["curves"].items():
            print(f"{nmda._label(key)}: " + "  ".join(
                f"θ={t:g} P={p:.3f} R={r:.3f}" for t, p, r in
                zip(s["theta"], s["seq_precision"], s["seq_recall"])))
    _save(fig, args, out)


def format_summary(summary: dict) -> str:
    def fmt(v, spec):
        return "-" if v is None else format(v, spec)
    lines = [f"file: {summary['file']}",
             f"window: [{summary['t_start_ms']:g}, {summary['t_stop_ms']:g}) ms"]
    run = summary.get("run")
    if run:
        lines.append("run: " + ", ".join(f"{k} {v}" for k, v in run.items()))
    header = (f"{'population':<16}{'neurons':>9}{'spikes':>12}{'rate Hz':>10}"
              f"{'silent':>8}{'CV mean':>9}{'CV med':>8}{'Fano':>9}")
    lines += [header, "-" * len(header)]
    for pop, s in summary["populations"].items():
        lines.append(f"{pop:<16}{s['n_neurons']:>9}{s['n_spikes']:>12}"
                     f"{fmt(s['mean_rate_hz'], '.3f'):>10}{fmt(s['silent_fraction'], '.2f'):>8}"
                     f"{fmt(s['cv_isi_mean'], '.3f'):>9}{fmt(s['cv_isi_median'], '.3f'):>8}"
                     f"{fmt(s['fano_factor'], '.3g'):>9}")
    lines.append(f"{'all':<16}{summary['n_neurons']:>9}{summary['n_spikes']:>12}"
                 f"{fmt(summary['mean_rate_hz'], '.3f'):>10}")
    lines.append(f"(CV over neurons with >= {summary['min_spikes_for_cv']} spikes; Fano "
                 f"factor of the population count in {summary['fano_bin_ms']:g} ms bins)")
    return "\n".join(lines)


def cmd_summary(args) -> None:
    from .stats import summarize
    if args.json and not os.path.isdir(os.path.dirname(os.path.abspath(args.json))):
        raise AnalysisInputError(args.json, "output folder does not exist")
    with SpikeFile(args.file) as f:
        summary = summarize(f, _populations(args.population), args.t_start, args.t_stop,
                            args.fano_bin_ms, args.min_spikes)
    print(format_summary(summary))
    if args.json:
        try:
            with open(args.json, "w", encoding="utf-8") as fh:
                json.dump(summary, fh, indent=2, allow_nan=False)
                fh.write("\n")
        except OSError as e:
            raise AnalysisInputError(args.json, f"cannot write: {e}") from None
        print(f"wrote {args.json}")


def cmd_export(args) -> None:
    ext = os.path.splitext(args.output)[1].lower()
    if ext not in (".csv", ".npz"):
        raise AnalysisInputError(args.output, "unknown export format (use .csv or .npz)")
    if not os.path.isdir(os.path.dirname(os.path.abspath(args.output))):
        raise AnalysisInputError(args.output, "output folder does not exist")
    with SpikeFile(args.file) as f:
        pops = _populations(args.population)
        try:
            if ext == ".csv":
                n = export_csv(f, args.output, pops, args.t_start, args.t_stop)
            else:
                n = export_npz(f, args.output, pops, args.t_start, args.t_stop)
        except OSError as e:
            raise AnalysisInputError(args.output, f"cannot write: {e}") from None
    print(f"wrote {n} spikes to {args.output}")


COMMANDS = {"raster": cmd_raster, "rate": cmd_rate, "rate-hist": cmd_rate_hist,
            "isi": cmd_isi, "psth": cmd_psth, "traces": cmd_traces, "sweep": cmd_sweep,
            "summary": cmd_summary, "export": cmd_export, "nmda-errors": cmd_nmda,
            "nmda-sequence": cmd_nmda}
from .sparsey import COMMANDS as _SPARSEY_COMMANDS  # noqa: E402 (sparsey imports from here)
COMMANDS.update(_SPARSEY_COMMANDS)


def cmd_what_when(args) -> None:
    from .what_when import run_command
    run_command(args, _output, _save)


COMMANDS.update(dict.fromkeys(what_when_commands, cmd_what_when))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        COMMANDS[args.command](args)
        sys.stdout.flush()  # inside the try: a closed pipe shows up here, not at exit
    except AnalysisInputError as e:
        print(f"{parser.prog} {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader of stdout went away (``... | head``): stop quietly, as a shell tool killed
        # by SIGPIPE does (exit 128 + 13). stdout is pointed at /dev/null first, or the
        # interpreter's own flush at exit would raise again and print a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 141
    return 0
