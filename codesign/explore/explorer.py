"""The exploration loop: strategy -> executor -> store, then the Pareto front.

Points are asked in batches of ``batch_size`` (independent of the number of workers), evaluated
in parallel, committed to the store as each completes and told to the strategy in ask order, so
the run is deterministic for a seed whatever ``--jobs`` is. A point already in the store is told
from the store, never re-evaluated: resuming an interrupted run replays the strategy through the
stored points and continues with the same sequence an uninterrupted run would have taken.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from codesign.errors import SpecError
from codesign.explore.executor import Executor
from codesign.explore.pareto import Objective, knee_index, objective_matrix, pareto_indices
from codesign.explore.space import Constraints, DesignSpace, _positive_int
from codesign.explore.store import Record, ResultStore
from codesign.explore.strategy import Strategy, param_key

__all__ = ["Progress", "ExploreResult", "explore", "feasible_records"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Progress:
    """State reported after every completed point.

    Parameters
    ----------
    done : int
        Distinct points evaluated so far in the study (stored ones included).
    budget : int
        Target number of distinct points.
    evaluated : int
        Points evaluated by this run (not taken from the store).
    feasible : int
        Feasible points so far.
    best : dict of str to float
        Best value of each objective's metric over feasible points so far.
    record : Record
        The point just completed.
    """

    done: int
    budget: int
    evaluated: int
    feasible: int
    best: dict[str, float] = field(hash=False)
    record: Record


@dataclass(frozen=True, kw_only=True, slots=True)
class ExploreResult:
    """Outcome of `explore`.

    Parameters
    ----------
    records : tuple of Record
        Every point of the study (this run and resumed ones), in store order.
    feasible : tuple of Record
        Records without error that meet the constraints.
    pareto : tuple of Record
        Non-dominated feasible records over the objectives.
    knee : Record
        The knee of the front (`knee_index`).
    objectives : tuple of Objective
        The objectives of the front.
    evaluated : int
        Points evaluated by this run.
    reused : int
        Points taken from the store instead of being evaluated.
    wall_s : float
        Wall time of the run.
    stopped : str
        Why the search ended before ``budget`` distinct points (empty when it reached it).
    """

    records: tuple[Record, ...]
    feasible: tuple[Record, ...]
    pareto: tuple[Record, ...]
    knee: Record
    objectives: tuple[Objective, ...]
    evaluated: int
    reused: int
    wall_s: float
    stopped: str = ""


def _violation(constraints: Constraints, record: Record) -> float:
    return sum(constraints.violations(record.metrics).values()) if record.ok else 0.0


def feasible_records(records: Sequence[Record], constraints: Constraints) -> list[Record]:
    """Records that evaluated without error and meet ``constraints``."""
    return [r for r in records if r.ok and not constraints.violations(r.metrics)]


def _no_feasible_message(records: Sequence[Record], constraints: Constraints) -> str:
    failed = [r for r in records if not r.ok]
    msg = f"no feasible design point among {len(records)} evaluated"
    parts = []
    if failed:
        parts.append(f"{len(failed)} could not be evaluated (e.g. {failed[0].error})")
    ok = [r for r in records if r.ok]
    if ok:
        for name, metric, pick in (
            ("max_area_mm2", "area_mm2", min),
            ("max_latency_s", "latency_s", min),
            ("min_accuracy", "accuracy", max),
        ):
            limit = getattr(constraints, name)
            if limit is not None and all(metric in r.metrics for r in ok):
                best = pick(r.metrics[metric] for r in ok)
                parts.append(f"{name}={limit:g} but the best {metric} seen is {best:.6g}")
    return (
        msg
        + (": " + "; ".join(parts) if parts else "")
        + ("; relax the constraints or widen the design space")
    )


def explore(
    *,
    space: DesignSpace,
    objectives: Sequence[Objective],
    strategy: Strategy,
    store: ResultStore,
    executor: Executor,
    budget: int,
    batch_size: int = 16,
    add_metrics: Callable[[dict, dict], dict] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> ExploreResult:
    """Search ``space`` until ``budget`` distinct points are evaluated (or the strategy is
    exhausted), then return the Pareto front of the feasible points.

    Parameters
    ----------
    space : DesignSpace
        The expanded space (its constraints filter points).
    objectives : sequence of Objective
        What the strategy optimizes and the front is taken over.
    strategy : Strategy
        Proposes points; told minimization values in ask order.
    store : ResultStore
        Every evaluated point is put here as soon as it completes; points found here are not
        evaluated again.
    executor : Executor
        Evaluates hardware metrics of a batch of points.
    budget : int
        Number of distinct points of the study.
    batch_size : int
        Points asked before results are told (part of the study's identity).
    add_metrics : callable, optional
        ``(params, metrics) -> extra metrics`` computed in this process for successful points
        (the accuracy objective, cached by policy).
    on_progress : callable, optional
        Called with a `Progress` after every completed point.
    """
    _positive_int("budget", budget)
    _positive_int("batch_size", batch_size)
    objectives = tuple(objectives)
    if not objectives:
        raise SpecError("objectives must not be empty")
    constraints = space.constraints
    t0 = time.perf_counter()
    seen: set[tuple] = set()
    done = evaluated = reused = feasible = 0
    best: dict[str, float] = {}
    stall, max_stall = 0, max(200, 20 * batch_size)
    exhausted = False

    def note(record: Record) -> None:
        nonlocal feasible
        if record.ok and not constraints.violations(record.metrics):
            feasible += 1
            for o in objectives:
                v = record.metrics.get(o.metric)
                if v is None:
                    continue
                old = best.get(o.metric)
                if old is None or (v < old if o.minimize else v > old):
                    best[o.metric] = v

    def told(record: Record) -> tuple[list[float] | None, float]:
        if not record.ok:
            return None, 0.0
        missing = [o.metric for o in objectives if o.metric not in record.metrics]
        if missing:
            raise SpecError(
                f"objective metrics {missing} are not computed by this exploration "
                f"(metrics: {sorted(record.metrics)})"
            )
        values = [record.metrics[o.metric] * (1 if o.minimize else -1) for o in objectives]
        return values, _violation(constraints, record)

    while done < budget and not exhausted and stall < max_stall:
        trials, results, to_eval = [], {}, {}
        while len(trials) < batch_size and done + len(to_eval) < budget:
            trial = strategy.ask()
            if trial is None:
                exhausted = True
                break
            trials.append(trial)
            key = param_key(trial.params)
            if key in seen or key in to_eval or key in results:
                continue
            stored = store.get(trial.params)
            if stored is not None:
                results[key] = stored
                seen.add(key)
                done += 1
                reused += 1
                note(stored)
            else:
                to_eval[key] = trial.params
        new_points = len(to_eval) + sum(1 for t in trials if param_key(t.params) in results)
        stall = 0 if new_points else stall + len(trials)
        batch = list(to_eval.values())
        for i, rec in executor.run(batch):
            key = param_key(batch[i])
            if add_metrics is not None and rec.ok:
                rec = replace(rec, metrics={**rec.metrics, **add_metrics(rec.params, rec.metrics)})
            store.put(rec)
            results[key] = rec
            seen.add(key)
            done += 1
            evaluated += 1
            note(rec)
            if on_progress is not None:
                on_progress(
                    Progress(
                        done=done,
                        budget=budget,
                        evaluated=evaluated,
                        feasible=feasible,
                        best=dict(best),
                        record=rec,
                    )
                )
        for trial in trials:
            key = param_key(trial.params)
            rec = results.get(key) or store.get(trial.params)
            values, violation = told(rec)
            strategy.tell(trial, values, violation=violation)

    stopped = ""
    if done < budget:
        why = (
            "the strategy has no new point to propose (the space is exhausted)"
            if exhausted
            else f"the strategy proposed only points already seen in its last {stall} asks"
        )
        stopped = f"stopped after {done} of {budget} points: {why}"
    records = store.records()
    ok = feasible_records(records, constraints)
    if not ok:
        raise SpecError(_no_feasible_message(records, constraints))
    values = objective_matrix(ok, objectives)
    front = [ok[i] for i in pareto_indices(values)]
    knee = front[knee_index(objective_matrix(front, objectives))]
    return ExploreResult(
        records=tuple(records),
        feasible=tuple(ok),
        pareto=tuple(front),
        knee=knee,
        objectives=objectives,
        evaluated=evaluated,
        reused=reused,
        wall_s=time.perf_counter() - t0,
        stopped=stopped,
    )
