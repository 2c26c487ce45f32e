"""Executors: where design points are evaluated.

An executor runs one picklable *evaluate* callable (``params -> dict of metrics``) over batches
of points and yields ``(index, Record)`` pairs as they complete. The callable is shipped to each
worker once (process initializer, Ray object store), not with every point.

`SerialExecutor` runs in the calling process; `ProcessExecutor` (the default, ``--jobs N``) in a
local process pool; `RayExecutor` on a Ray cluster (``--ray-address``) or a local Ray runtime.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol, runtime_checkable

from codesign.errors import CodesignError, SpecError
from codesign.explore.space import _positive_int
from codesign.explore.store import Record

__all__ = [
    "EXECUTORS",
    "Evaluate",
    "Executor",
    "SerialExecutor",
    "ProcessExecutor",
    "RayExecutor",
    "evaluate_record",
    "check_ray_address",
    "make_executor",
]

Evaluate = Callable[[dict], dict]
"""A picklable ``params -> {metric: value}`` callable; raises a CodesignError for an invalid
point (recorded as a failed point, not a crash)."""


def evaluate_record(evaluate: Evaluate, params: dict) -> Record:
    """Run ``evaluate`` on one point and wrap the outcome (metrics or error) in a `Record`."""
    t0 = time.perf_counter()
    try:
        metrics = {k: float(v) for k, v in evaluate(params).items()}
        error = None
    except CodesignError as exc:
        metrics, error = {}, str(exc)
    return Record(params=params, metrics=metrics, error=error, eval_s=time.perf_counter() - t0)


@runtime_checkable
class Executor(Protocol):
    """Evaluates batches of points with one evaluate callable."""

    def run(self, batch: Sequence[dict]) -> Iterator[tuple[int, Record]]:
        """Evaluate every point of ``batch``; yield ``(index in batch, record)`` as each
        completes (any order)."""
        ...

    def close(self) -> None:
        """Release workers."""
        ...


class SerialExecutor:
    """Evaluates in the calling process, in order."""

    def __init__(self, evaluate: Evaluate) -> None:
        self._evaluate = evaluate

    def run(self, batch: Sequence[dict]) -> Iterator[tuple[int, Record]]:
        for i, params in enumerate(batch):
            yield i, evaluate_record(self._evaluate, params)

    def close(self) -> None:
        """Nothing to release."""


_WORKER_EVALUATE: Evaluate | None = None


def _init_worker(evaluate: Evaluate) -> None:
    global _WORKER_EVALUATE
    _WORKER_EVALUATE = evaluate


def _worker_run(params: dict) -> Record:
    assert _WORKER_EVALUATE is not None, "worker initializer did not run"
    return evaluate_record(_WORKER_EVALUATE, params)


class ProcessExecutor:
    """A local pool of ``jobs`` worker processes (fork start method where available).

    Parameters
    ----------
    evaluate : Evaluate
        Sent to each worker once, at start-up.
    jobs : int
        Number of worker processes.
    """

    def __init__(self, evaluate: Evaluate, *, jobs: int = 2) -> None:
        jobs = _positive_int("jobs", jobs)
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        self._pool = cf.ProcessPoolExecutor(
            max_workers=jobs, mp_context=ctx, initializer=_init_worker, initargs=(evaluate,)
        )

    def run(self, batch: Sequence[dict]) -> Iterator[tuple[int, Record]]:
        futures = {self._pool.submit(_worker_run, p): i for i, p in enumerate(batch)}
        try:
            for fut in cf.as_completed(futures):
                yield futures[fut], fut.result()
        finally:
            for fut in futures:
                fut.cancel()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class RayExecutor:
    """Evaluates on Ray: a cluster at ``address`` or, when ``address`` is ``None``, a local
    runtime with ``jobs`` CPUs started (and stopped) by this executor.

    Parameters
    ----------
    evaluate : Evaluate
        Put in Ray's object store once.
    jobs : int
        CPUs of the local runtime (ignored when joining a cluster).
    address : str or None
        Ray cluster address (``ray://host:10001`` or ``host:6379``), or ``None``.
    """

    def __init__(self, evaluate: Evaluate, *, jobs: int = 2, address: str | None = None) -> None:
        jobs = _positive_int("jobs", jobs)
        if address is not None:
            check_ray_address(address)
        try:
            import ray
        except ImportError:
            raise SpecError(
                "executor 'ray' needs the ray package: pip install 'codesign[ray]'"
            ) from None
        self._ray = ray
        self._owns_runtime = not ray.is_initialized()
        if self._owns_runtime:
            if address is None:
                ray.init(
                    num_cpus=jobs,
                    include_dashboard=False,
                    log_to_driver=False,
                    configure_logging=False,
                )
            else:
                ray.init(address=address, log_to_driver=False, configure_logging=False)
        self._evaluate_ref = ray.put(evaluate)
        self._remote = ray.remote(num_cpus=1)(evaluate_record)

    def run(self, batch: Sequence[dict]) -> Iterator[tuple[int, Record]]:
        ray = self._ray
        refs = {self._remote.remote(self._evaluate_ref, p): i for i, p in enumerate(batch)}
        pending = list(refs)
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                for ref in ready:
                    yield refs[ref], ray.get(ref)
        finally:
            for ref in pending:
                ray.cancel(ref)

    def close(self) -> None:
        if self._owns_runtime and self._ray.is_initialized():
            self._ray.shutdown()


def check_ray_address(address: str, timeout_s: float = 5.0) -> None:
    """Refuse a Ray address nothing answers at within ``timeout_s`` (``ray.init`` would wait for
    minutes); ``auto`` and ``local`` are Ray's own names and are passed on."""
    import socket

    if address in ("auto", "local"):
        return
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SpecError(
            f"--ray-address must be HOST:PORT, ray://HOST:PORT, auto or local, not {address!r}"
        )
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise SpecError(
            f"--ray-address {address!r}: nothing answers at {host}:{port} ({reason}); start the "
            f"cluster or drop --ray-address for a local runtime"
        ) from None


EXECUTORS: tuple[str, ...] = ("serial", "process", "ray")
"""Executor names accepted by `make_executor` and ``codesign explore --executor``."""


def make_executor(
    name: str, evaluate: Evaluate, *, jobs: int = 2, ray_address: str | None = None
) -> Executor:
    """The executor called ``name`` (one of `EXECUTORS`)."""
    if name == "serial":
        return SerialExecutor(evaluate)
    if name == "process":
        return ProcessExecutor(evaluate, jobs=jobs)
    if name == "ray":
        return RayExecutor(evaluate, jobs=jobs, address=ray_address)
    raise SpecError(f"executor must be one of {list(EXECUTORS)}, not {name!r}")
