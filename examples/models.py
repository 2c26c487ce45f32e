"""Example models in plain torch, each built by a factory with no required arguments.

Convention: ``NAME()`` returns a ``torch.nn.Module`` in eval mode with deterministic weights
(fixed seed), and ``NAME_inputs()`` returns the tuple of example inputs it is analyzed with.
``codesign analyze examples/models.py:NAME`` uses ``NAME_inputs()`` unless ``--input-shape`` is
given. A factory may instead return ``(module, inputs)``; ``codesign.workload.load_model``
accepts both forms.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = [
    "DigitsCNN",
    "digits_cnn",
    "digits_cnn_inputs",
]


def _seeded(seed: int) -> None:
    torch.manual_seed(seed)


class DigitsCNN(nn.Module):
    """A small CNN for scikit-learn's 8x8 digits (input ``(N, 1, 8, 8)``, 10 classes).

    ``conv1`` (1->8, 3x3, pad 1) - ReLU - ``conv2`` (8->16, 3x3, pad 1) - ReLU - 2x2 max-pool -
    flatten - ``fc`` (256 -> 10).
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, kernel_size=3, padding=1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(8, 16, kernel_size=3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(16 * 4 * 4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu1(self.conv1(x))
        x = self.pool(self.relu2(self.conv2(x)))
        return self.fc(self.flatten(x))


def digits_cnn() -> nn.Module:
    """The digits CNN with seeded (untrained) weights, in eval mode."""
    _seeded(0)
    return DigitsCNN().eval()


def digits_cnn_inputs() -> tuple[torch.Tensor]:
    """One 8x8 grey-scale digit in [0, 16] like scikit-learn's ``load_digits``: ``(1, 1, 8, 8)``."""
    g = torch.Generator().manual_seed(1)
    return (torch.randint(0, 17, (1, 1, 8, 8), generator=g).float(),)
