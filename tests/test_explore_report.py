"""Plots of an exploration: the PNG exists and the plotted data are exactly the inputs."""

import numpy as np
import pytest

from codesign.errors import SpecError
from codesign.report import plot_layer_breakdown, plot_pareto

PNG = b"\x89PNG\r\n\x1a\n"


def test_pareto_scatter_plots_every_point_and_the_front(tmp_path):
    all_v = np.array([[1, 9], [3, 5], [2, 4], [9, 1], [3, 3], [4, 1]], dtype=float)
    front = all_v[[0, 2, 4, 5]]
    fig = plot_pareto(
        tmp_path / "p.png", all_values=all_v, front_values=front, labels=["lat", "area"], knee=1
    )
    assert (tmp_path / "p.png").read_bytes()[:8] == PNG
    ax = fig.axes[0]
    grey, blue, star = ax.collections
    assert np.array_equal(grey.get_offsets(), all_v)
    assert np.array_equal(blue.get_offsets(), front[np.argsort(front[:, 0])])
    assert np.array_equal(star.get_offsets(), [[2, 4]])
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("lat", "area")


def test_pareto_scatter_with_three_objectives_colours_by_the_third(tmp_path):
    v = np.array([[1, 3, 10], [2, 2, 20], [3, 1, 30]], dtype=float)
    fig = plot_pareto(tmp_path / "p.png", all_values=v, front_values=v, labels=["a", "b", "c"])
    assert np.array_equal(fig.axes[0].collections[1].get_array(), [10, 20, 30])
    with pytest.raises(SpecError, match=r"^plot_pareto needs at least two objectives"):
        plot_pareto(tmp_path / "q.png", all_values=v, front_values=v, labels=["a"])


def test_layer_breakdown_bars_equal_the_inputs(tmp_path):
    fig = plot_layer_breakdown(
        tmp_path / "b.png", layers=["conv1", "fc"], latency_cycles=[100, 40], energy_pj=[2e6, 1e6]
    )
    assert (tmp_path / "b.png").read_bytes()[:8] == PNG
    lat = [p.get_height() for p in fig.axes[0].patches]
    uj = [p.get_height() for p in fig.axes[1].patches]
    assert lat == [100, 40] and uj == pytest.approx([2.0, 1.0])
    with pytest.raises(SpecError, match=r"^plot_layer_breakdown needs one latency and one energy"):
        plot_layer_breakdown(tmp_path / "c.png", layers=["a"], latency_cycles=[], energy_pj=[1])
