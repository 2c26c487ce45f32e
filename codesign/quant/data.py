"""Models and data for accuracy in the loop: model specs, scikit-learn's digits, training with
a weight cache.

A model spec is ``path/to/file.py:factory``: ``factory()`` returns a ``torch.nn.Module`` (or
``(module, inputs)``), and ``factory_inputs()``, if defined, returns example inputs.

Trained weights are cached under the user's cache directory -- ``$CODESIGN_CACHE_DIR``, else
``$XDG_CACHE_HOME/codesign``, else ``~/.cache/codesign`` -- in ``quant/<factory>-<hash>.pt``,
where the hash covers the model file's source, the source of the model's class, the factory
name, the data split, the training hyperparameters and the torch version. Nothing is written
into the repository.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from codesign.errors import SpecError

__all__ = [
    "ModelSpec",
    "Dataset",
    "TrainConfig",
    "cache_dir",
    "load_model_spec",
    "digits_dataset",
    "single_thread",
    "train_classifier",
    "trained_model",
    "top1_accuracy",
]


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class ModelSpec:
    """A model loaded from ``file.py:factory``.

    Parameters
    ----------
    spec : str
        The spec string as given.
    path : Path
        The model file.
    factory : str
        The factory function's name.
    module : torch.nn.Module
        A fresh model from the factory, in eval mode.
    example_inputs : tuple of torch.Tensor
        Example inputs (from ``factory_inputs()`` or the factory's own pair).
    """

    spec: str
    path: Path
    factory: str
    module: nn.Module
    example_inputs: tuple[torch.Tensor, ...]


def load_model_spec(spec: str) -> ModelSpec:
    """Build the model of ``file.py:factory`` with `codesign.workload.load_model`; example
    inputs are required."""
    from codesign.workload import load_model

    module, inputs = load_model(spec)
    if inputs is None:
        raise SpecError(
            f"model spec {spec!r}: the factory gives no example inputs; return (module, inputs) "
            f"or define FACTORY_inputs() in the same file"
        )
    path_text, _, factory = spec.rpartition(":")
    return ModelSpec(
        spec=spec,
        path=Path(path_text),
        factory=factory,
        module=module.eval(),
        example_inputs=tuple(inputs),
    )


def cache_dir() -> Path:
    """``$CODESIGN_CACHE_DIR``, else ``$XDG_CACHE_HOME/codesign``, else ``~/.cache/codesign``."""
    if os.environ.get("CODESIGN_CACHE_DIR"):
        return Path(os.environ["CODESIGN_CACHE_DIR"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "codesign"
    return Path.home() / ".cache" / "codesign"


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class Dataset:
    """A classification data set split into train and held-out test samples.

    Parameters
    ----------
    name : str
        Data set name.
    train_x, test_x : torch.Tensor
        float32 inputs, ``(N, ...)``.
    train_y, test_y : torch.Tensor
        int64 class labels, ``(N,)``.
    """

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor


DIGITS_SPLIT_SEED = 0
DIGITS_TEST_FRACTION = 0.25


@functools.cache
def digits_dataset() -> Dataset:
    """scikit-learn's 8x8 digits (1,797 images, values 0..16, 10 classes) as ``(N, 1, 8, 8)``
    float32, split 75/25 stratified with a fixed seed (1,347 train, 450 test)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x_tr, x_te, y_tr, y_te = train_test_split(
        data.images,
        data.target,
        test_size=DIGITS_TEST_FRACTION,
        random_state=DIGITS_SPLIT_SEED,
        stratify=data.target,
    )

    def as_x(a: object) -> torch.Tensor:
        return torch.tensor(a, dtype=torch.float32).unsqueeze(1)

    def as_y(a: object) -> torch.Tensor:
        return torch.tensor(a, dtype=torch.int64)

    return Dataset(
        name="digits", train_x=as_x(x_tr), train_y=as_y(y_tr), test_x=as_x(x_te), test_y=as_y(y_te)
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class TrainConfig:
    """Hyperparameters of `train_classifier` (Adam, cross-entropy, shuffled mini-batches)."""

    epochs: int = 20
    batch_size: int = 64
    lr: float = 3e-3
    seed: int = 0


def train_classifier(model: nn.Module, data: Dataset, config: TrainConfig) -> nn.Module:
    """Train ``model`` in place on ``data``'s training split, deterministically (fixed seed and
    one intra-op thread; the global RNG state and thread count are restored afterwards); returns
    it in eval mode.

    One thread: the model is tiny, so a single thread is as fast when the machine is idle and
    many times faster when other processes compete for the cores; it also makes the float
    summation order, hence the trained weights, independent of the machine's core count.
    """
    with torch.random.fork_rng(devices=[]), single_thread():
        torch.manual_seed(config.seed)
        gen = torch.Generator().manual_seed(config.seed)
        opt = torch.optim.Adam(model.parameters(), lr=config.lr)
        loss_fn = nn.CrossEntropyLoss()
        model.train()
        n = data.train_x.shape[0]
        for _ in range(config.epochs):
            perm = torch.randperm(n, generator=gen)
            for i in range(0, n, config.batch_size):
                idx = perm[i : i + config.batch_size]
                opt.zero_grad()
                loss_fn(model(data.train_x[idx]), data.train_y[idx]).backward()
                opt.step()
    return model.eval()


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run torch with one intra-op thread inside the block."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _class_source(module: nn.Module) -> str:
    """Source of the model's class (it may live outside the spec's file), or its name."""
    try:
        return inspect.getsource(type(module))
    except (OSError, TypeError):
        return type(module).__qualname__


def _weights_key(spec: ModelSpec, data: Dataset, config: TrainConfig) -> str:
    payload = {
        "source": hashlib.sha256(spec.path.read_bytes()).hexdigest(),
        "class_source": _class_source(spec.module),
        "factory": spec.factory,
        "data": [data.name, DIGITS_SPLIT_SEED, DIGITS_TEST_FRACTION],
        "train": asdict(config),
        "torch": torch.__version__,
    }
    text = json.dumps(payload, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def trained_model(spec: ModelSpec, data: Dataset, config: TrainConfig | None = None) -> nn.Module:
    """A model of ``spec`` trained on ``data``: loaded from the weight cache when present,
    else trained (`train_classifier`) and cached. Each call returns a fresh module."""
    config = config or TrainConfig()
    path = cache_dir() / "quant" / f"{spec.factory}-{_weights_key(spec, data, config)}.pt"
    model = load_model_spec(spec.spec).module
    if path.is_file():
        model.load_state_dict(torch.load(path, weights_only=True))
        return model.eval()
    train_classifier(model, data, config)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    torch.save(model.state_dict(), tmp)
    os.replace(tmp, path)
    return model


def top1_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of samples whose largest logit is the label."""
    return float((logits.argmax(dim=-1) == labels).to(torch.float64).mean())
