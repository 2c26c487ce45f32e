"""Reports: plots of explorations (Pareto front, per-layer breakdown)."""

from codesign.report.plots import plot_layer_breakdown, plot_pareto

__all__ = ["plot_layer_breakdown", "plot_pareto"]
