"""Plots of Sparsey runs (``snnsim run experiments/sparsey_*.toml``).

A Sparsey run's spikes.h5 holds, besides the codes as spikes, the groups ``/sparsey``
(the main run) and ``/sparsey_other`` (the same task under the other preset) with per
presentation ``G``, ``eta``, ``codes`` (presentations x Q winner indices), ``seed_index``,
``phase`` (+ ``phase_names``), ``item``, ``label``, and one task table (``curve``,
``capacity``, ``sequences``, ``accuracy``, ``episodic``) of equal-length columns.

Subcommands (registered in cli.py):
  sparsey-similarity  input overlap vs code overlap per probe, with the analytic curve
  sparsey-capacity    recall and familiarity against the number of stored patterns
  sparsey-overlap     pairwise code-overlap matrix of chosen presentations
  sparsey-digits      accuracy against examples per class, with 1-NN and random codes
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .errors import AnalysisInputError
from .io import open_h5, resolve_spike_path

GROUPS = ("sparsey", "sparsey_other")


def read_sparsey(path, group: str = "sparsey", require: str | None = None) -> dict:
    """The datasets and attributes of one Sparsey group, as numpy arrays.

    ``require`` names the task table that must be present (a clear error otherwise)."""
    path = resolve_spike_path(path)
    with open_h5(path) as h5:
        if group not in h5:
            raise AnalysisInputError(path, "no such group (not a Sparsey run?)", f"/{group}")
        g = h5[group]
        out = {"attrs": {k: (v.decode() if isinstance(v, bytes) else v)
                         for k, v in g.attrs.items()}, "path": path, "group": group}
        for name in ("G", "eta", "codes", "seed_index", "phase", "item", "label"):
            if name not in g:
                raise AnalysisInputError(path, "missing dataset", f"/{group}/{name}")
            out[name] = g[name][()]
        out["phase_names"] = [p.decode() if isinstance(p, bytes) else str(p)
                              for p in g["phase_names"][()]]
        out["tables"] = {name: {c: g[name][c][()] for c in g[name]}
                         for name in g if isinstance(g[name], type(h5["/"]))}
        if "spearman_per_seed" in g:
            out["spearman_per_seed"] = g["spearman_per_seed"][()]
    if require and require not in out["tables"]:
        raise AnalysisInputError(path, f"no '{require}' table: this run's task is "
                                 f"'{out['attrs'].get('task', '?')}'", f"/{group}/{require}")
    return out


def read_groups(path, require: str) -> list[dict]:
    """The main group, and the other-preset group when the run has one."""
    runs = [read_sparsey(path, GROUPS[0], require)]
    with open_h5(resolve_spike_path(path)) as h5:
        other = GROUPS[1] in h5
    if other:
        runs.append(read_sparsey(path, GROUPS[1], require))
    return runs


def _phase(run: dict, name: str) -> np.ndarray:
    if name not in run["phase_names"]:
        raise AnalysisInputError(run["path"], f"unknown phase '{name}' (known: "
                                 f"{', '.join(run['phase_names'])})")
    return run["phase"] == run["phase_names"].index(name)


def _label(run: dict) -> str:
    a = run["attrs"]
    return f"{a.get('preset', '?')} preset, {a.get('Q', '?')}x{a.get('K', '?')}"


# --------------------------------------------------------------------------- similarity

def similarity_data(run: dict) -> dict:
    """Per probe: input overlap (shared bits / reference bits) and code overlap with the
    reference's code (fraction of CMs), over all seeds; and the curve table."""
    learn, probe = _phase(run, "learn"), _phase(run, "probe")
    xs, ys = [], []
    for s in np.unique(run["seed_index"][learn]):
        ref = np.flatnonzero(learn & (run["seed_index"] == s))[0]
        active = run["label"][ref]
        rows = np.flatnonzero(probe & (run["seed_index"] == s))
        xs.append(run["label"][rows] / active)
        ys.append((run["codes"][rows] == run["codes"][ref]).mean(axis=1))
    return {"input_overlap": np.concatenate(xs) if xs else np.zeros(0),
            "code_overlap": np.concatenate(ys) if ys else np.zeros(0),
            "curve": run["tables"]["curve"],
            "spearman_per_seed": run.get("spearman_per_seed", np.zeros(0))}


def plot_similarity(runs: list[dict], title: str | None = None):
    fig = Figure(figsize=(6 * len(runs), 4.8))
    axes = fig.subplots(1, len(runs), squeeze=False)[0]
    data = [similarity_data(r) for r in runs]
    for ax, run, d in zip(axes, runs, data):
        jitter = np.random.default_rng(0).uniform(-0.004, 0.004, d["input_overlap"].size)
        ax.scatter(d["input_overlap"] + jitter, d["code_overlap"], s=6, alpha=0.3,
                   color="tab:blue", label="probes (all seeds)")
        c = d["curve"]
        ax.plot(c["input_overlap"], c["mean_code_overlap"], color="tab:orange", lw=1.5,
                label="mean over seeds")
        ax.plot(c["input_overlap"], c["analytic_code_overlap"], "k--", lw=1.2,
                label="analytic (CSA equations)")
        sp = d["spearman_per_seed"]
        note = f"Spearman mean {sp.mean():.3f}, min {sp.min():.3f}" if sp.size else ""
        ax.set_title(f"{_label(run)}\n{note}", fontsize="medium")
        ax.set_xlabel("input overlap with the reference")
        ax.set_ylabel("code overlap (fraction of CMs)")
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize="small", loc="upper left")
    fig.suptitle(title or "Similarity preservation (protocol P1)")
    return fig, data


# --------------------------------------------------------------------------- capacity

def plot_capacity(runs: list[dict], title: str | None = None):
    fig = Figure(figsize=(11, 4.5))
    ax_r, ax_g = fig.subplots(1, 2)
    styles = ["-", "--"]
    data = []
    for run, ls in zip(runs, styles):
        t = run["tables"]["capacity"]
        data.append(t)
        lab = _label(run)
        ax_r.plot(t["stored"], t["exact_recall"], ls, marker="o", color="tab:blue",
                  label=f"exact recall, {lab}")
        ax_r.plot(t["stored"], t["cm_recall"], ls, marker=".", color="tab:cyan",
                  label=f"CM recall, {lab}")
        ax_r.plot(t["stored"], t["cm_recall_noisy"], ls, marker="x", color="tab:red",
                  label=f"CM recall, noisy cue, {lab}")
        ax_g.plot(t["stored"], t["G_novel"], ls, marker="o", color="tab:purple",
                  label=f"G novel, {lab}")
        ax_g.plot(t["stored"], t["G_learning"], ls, marker=".", color="tab:green",
                  label=f"G at learning, {lab}")
    for ax in (ax_r, ax_g):
        ax.set_xscale("log")
        ax.set_xlabel("patterns stored")
        ax.set_ylim(-0.02, 1.05)
        ax.legend(fontsize="x-small")
    ax_r.set_ylabel("recall")
    ax_g.set_ylabel("familiarity G")
    fig.suptitle(title or "Episodic capacity")
    return fig, data


# --------------------------------------------------------------------------- overlaps

def overlap_matrix_data(run: dict, phase: str = "learn", seed: int = 0,
                        max_items: int = 200) -> dict:
    """Pairwise code overlap (fraction of CMs) of one seed's presentations of one phase,
    ordered by label then item (digits: by class), at most max_items evenly spread."""
    rows = np.flatnonzero(_phase(run, phase) & (run["seed_index"] == seed))
    if rows.size == 0:
        raise AnalysisInputError(run["path"], f"no presentations of phase '{phase}' with "
                                 f"seed_index {seed}", f"/{run['group']}")
    rows = rows[np.lexsort((run["item"][rows], run["label"][rows]))]
    if rows.size > max_items:
        rows = rows[np.linspace(0, rows.size - 1, max_items).round().astype(int)]
    codes = run["codes"][rows]
    m = (codes[:, None, :] == codes[None, :, :]).mean(axis=2)
    return {"matrix": m, "labels": run["label"][rows], "items": run["item"][rows]}


def plot_overlap(runs: list[dict], phase: str, seed: int, max_items: int,
                 title: str | None = None):
    fig = Figure(figsize=(5.5 * len(runs), 4.8))
    axes = fig.subplots(1, len(runs), squeeze=False)[0]
    data = []
    for ax, run in zip(axes, runs):
        d = overlap_matrix_data(run, phase, seed, max_items)
        data.append(d)
        im = ax.imshow(d["matrix"], vmin=0, vmax=1, cmap="viridis", interpolation="nearest")
        off = d["matrix"][~np.eye(len(d["matrix"]), dtype=bool)]
        ax.set_title(f"{_label(run)}\nmean off-diagonal {off.mean() if off.size else 0:.3f}",
                     fontsize="medium")
        ax.set_xlabel(f"presentation ({phase}, ordered by label)")
        ax.set_ylabel("presentation")
        fig.colorbar(im, ax=ax, label="code overlap (fraction of CMs)")
    fig.suptitle(title or f"Code overlap, phase {phase}, seed {seed}")
    return fig, data


# --------------------------------------------------------------------------- digits

def plot_digits(runs: list[dict], title: str | None = None):
    fig = Figure(figsize=(7, 4.8))
    ax = fig.add_subplot()
    data = []
    for run, ls in zip(runs, ["-", "--"]):
        t = run["tables"]["accuracy"]
        data.append(t)
        x = t["train_examples"] / 10.0  # examples per class (the whole pool: its mean)
        lab = _label(run)
        ax.errorbar(x, t["sparsey_mean"], yerr=t["sparsey_sd"], fmt=ls, marker="o",
                    color="tab:blue", capsize=3, label=f"Sparsey vote, {lab}")
        ax.errorbar(x, t["random_code_mean"], yerr=t["random_code_sd"], fmt=ls, marker="s",
                    color="tab:gray", capsize=3, label=f"random codes (chi = 0), {lab}")
        if ls == "-":
            ax.errorbar(x, t["nn_mean"], yerr=t["nn_sd"], fmt=":", marker="^",
                        color="tab:red", capsize=3, label="1-NN Hamming (same encoding)")
    ax.set_xscale("log")
    ax.set_xlabel("training examples per class")
    ax.set_ylabel("test accuracy (797 images)")
    ax.set_ylim(0, 1)
    ax.axhline(0.1, color="k", lw=0.5, ls=":")
    ax.legend(fontsize="x-small", loc="best")
    ax.set_title(title or "Digits: accuracy against examples per class")
    return fig, data


# --------------------------------------------------------------------------- command line

def add_parsers(sub, add_common, positive_int) -> None:
    p = sub.add_parser("sparsey-similarity", help="Sparsey: input vs code overlap, with "
                       "the analytic curve", description="Per probe of protocol P1: input "
                       "overlap with the reference against code overlap, with the seed mean "
                       "and the curve the CSA's equations predict; one panel per preset.")
    add_common(p, window=False, pops=False)
    p = sub.add_parser("sparsey-capacity", help="Sparsey: recall and G against load",
                       description="Exact and per-CM recall (clean and noisy cues) and the "
                       "familiarity G of novel inputs against the number stored.")
    add_common(p, window=False, pops=False)
    p = sub.add_parser("sparsey-overlap", help="Sparsey: pairwise code-overlap matrix",
                       description="Code overlap (fraction of CMs) between the presentations "
                       "of one phase and seed, ordered by label (digits: by class).")
    add_common(p, window=False, pops=False)
    p.add_argument("--phase", default="learn", help="phase to show (default learn; see "
                   "/sparsey/phase_names)")
    p.add_argument("--seed", type=int, default=0, help="seed or draw index (default 0)")
    p.add_argument("--max-items", type=positive_int, default=200, help="most presentations "
                   "shown, evenly spread (default 200)")
    p = sub.add_parser("sparsey-digits", help="Sparsey: digits accuracy with 1-NN and "
                       "random-code controls", description="Vote accuracy against examples "
                       "per class, with 1-NN Hamming and the chi = 0 random-code field.")
    add_common(p, window=False, pops=False)


def _run(args, name: str, require: str, plot, *extra) -> None:
    from .cli import _output, _save
    out = _output(args, name)
    runs = read_groups(args.file, require)
    fig, _ = plot(runs, *extra, args.title)
    _save(fig, args, out)


def cmd_similarity(args) -> None:
    _run(args, "sparsey_similarity", "curve", plot_similarity)
    for run in read_groups(args.file, "curve"):
        sp = run.get("spearman_per_seed", np.zeros(0))
        if sp.size:
            print(f"{_label(run)}: Spearman mean {sp.mean():.4f}, min {sp.min():.4f}")


def cmd_capacity(args) -> None:
    _run(args, "sparsey_capacity", "capacity", plot_capacity)


def cmd_overlap(args) -> None:
    from .cli import _output, _save
    out = _output(args, "sparsey_overlap")
    runs = [read_sparsey(args.file, GROUPS[0])]
    with open_h5(resolve_spike_path(args.file)) as h5:
        if GROUPS[1] in h5:
            runs.append(read_sparsey(args.file, GROUPS[1]))
    fig, _ = plot_overlap(runs, args.phase, args.seed, args.max_items, args.title)
    _save(fig, args, out)


def cmd_digits(args) -> None:
    _run(args, "sparsey_digits", "accuracy", plot_digits)


COMMANDS = {"sparsey-similarity": cmd_similarity, "sparsey-capacity": cmd_capacity,
            "sparsey-overlap": cmd_overlap, "sparsey-digits": cmd_digits}
