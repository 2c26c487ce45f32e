"""Matplotlib figures: the Pareto front scatter and the per-layer breakdown of one design point.

matplotlib is imported inside the functions (Agg backend, no display needed), so importing this
module stays light. Each function saves a PNG and returns the figure for inspection.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from codesign.errors import SpecError

__all__ = ["plot_pareto", "plot_layer_breakdown"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_pareto(
    path: str | Path,
    *,
    all_values: np.ndarray,
    front_values: np.ndarray,
    labels: Sequence[str],
    knee: int | None = None,
    title: str = "Design-space exploration",
):
    """Scatter of every feasible point (grey) and the Pareto front (coloured) over the first two
    objectives; a third objective, if any, colours the front; the knee is a star.

    Parameters
    ----------
    path : str or Path
        PNG to write.
    all_values, front_values : ndarray
        ``(n, k)`` objective values (natural units, not negated), ``k >= 2``.
    labels : sequence of str
        Axis label of each objective (``k`` of them).
    knee : int or None
        Row of ``front_values`` to mark as the knee.
    """
    all_values = np.asarray(all_values, dtype=float)
    front_values = np.asarray(front_values, dtype=float)
    k = len(labels)
    if k < 2 or all_values.ndim != 2 or all_values.shape[1] != k or front_values.shape[1:] != (k,):
        raise SpecError(
            f"plot_pareto needs at least two objectives and value arrays of shape (n, {k}), "
            f"not {all_values.shape} and {front_values.shape}"
        )
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
    ax.scatter(all_values[:, 0], all_values[:, 1], s=10, c="0.75", label="evaluated")
    order = np.argsort(front_values[:, 0])
    f = front_values[order]
    if k >= 3:
        sc = ax.scatter(f[:, 0], f[:, 1], s=28, c=f[:, 2], cmap="viridis", label="Pareto front")
        fig.colorbar(sc, ax=ax, label=labels[2])
    else:
        ax.scatter(f[:, 0], f[:, 1], s=28, c="tab:blue", label="Pareto front")
        ax.plot(f[:, 0], f[:, 1], c="tab:blue", lw=0.8, drawstyle="steps-post")
    if knee is not None:
        ax.scatter(
            [front_values[knee, 0]],
            [front_values[knee, 1]],
            s=160,
            marker="*",
            c="tab:red",
            label="knee",
        )
    for axis, values in ((ax.set_xscale, all_values[:, 0]), (ax.set_yscale, all_values[:, 1])):
        if len(values) and values.min() > 0 and values.max() / values.min() > 100:
            axis("log")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_title(title)
    ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return fig


def plot_layer_breakdown(
    path: str | Path,
    *,
    layers: Sequence[str],
    latency_cycles: Sequence[float],
    energy_pj: Sequence[float],
    kinds: Sequence[str] | None = None,
    title: str = "Per-layer breakdown",
):
    """Two bar charts, one bar per layer in order: latency (cycles) and energy (uJ). With
    ``kinds`` (``mac`` or a non-MAC category per layer), MAC layers and the vector unit's
    operators get their own colours and a legend."""
    n = len(layers)
    if n == 0 or len(latency_cycles) != n or len(energy_pj) != n:
        raise SpecError(
            f"plot_layer_breakdown needs one latency and one energy per layer, got {n} layers, "
            f"{len(latency_cycles)} latencies and {len(energy_pj)} energies"
        )
    if kinds is not None and len(kinds) != n:
        raise SpecError(f"plot_layer_breakdown needs one kind per layer, got {len(kinds)} for {n}")
    plt = _pyplot()
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(max(6.4, 0.35 * n + 2), 6.0), dpi=100, sharex=True)
    x = np.arange(n)
    lat = np.asarray(latency_cycles, dtype=float)
    energy = np.asarray(energy_pj, dtype=float) * 1e-6
    if kinds is None:
        a1.bar(x, lat, color="tab:blue")
        a2.bar(x, energy, color="tab:orange")
    else:
        mac = np.array([k == "mac" for k in kinds])
        groups = ((mac, "tab:blue", "MAC layers"), (~mac, "tab:green", "vector unit"))
        for sel, color, label in groups:
            if sel.any():
                a1.bar(x[sel], lat[sel], color=color, label=label)
                a2.bar(x[sel], energy[sel], color=color, label=label)
        a1.legend(fontsize="small")
    a1.set_ylabel("latency (cycles)")
    a2.set_ylabel("energy (uJ)")
    a2.set_xticks(x, list(layers), rotation=90, fontsize="small")
    a1.set_title(title)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return fig
