"""Split-and-conquer over executors: local fits where the data lives, the robust aggregation on the caller.

The setting of [J] §3 and §4.1 run for real: each partition (one machine's data) is fitted by (penalised) EM
in its own task; the task sends back only its estimate as :mod:`mixagg.wire` JSON, which the
caller validates like any untrusted payload and aggregates with :func:`mixagg.aggregate`.

Executors
---------
``None`` / ``"inprocess"``
    One task after another in this process (the default).
``"processes"``
    ``n_workers`` worker processes (``spawn`` start method). Each worker is a single-process
    ``concurrent.futures.ProcessPoolExecutor`` running one task at a time, so a process that
    dies is charged to the partition it was running and replaced.
a ``concurrent.futures.Executor``
    Your own pool (threads or processes). Raising tasks are retried; a pool that breaks
    (a process died) cannot be rebuilt, so the partitions it still held are reported missing.
a ``dask.distributed.Client``
    One task per partition. The blocks of a ``dask.array`` (along rows) or the partitions of a
    ``dask.dataframe`` are fitted where the scheduler placed them; only the JSON estimate travels
    back. A worker that dies is first rescheduled by Dask itself (up to the scheduler's
    ``distributed.scheduler.allowed-failures``); a ``KilledWorker`` then counts as one failed
    attempt here. A collection built from an in-memory array (``da.from_array``,
    ``dd.from_pandas``) carries that whole array in its graph; build it from files
    (``da.from_zarr``, ``dd.read_parquet``, ...) or ``persist()`` it so that each block lives on a worker.
    With the local executors, blocks of a dask collection are computed here, one per task.

Randomness: partition ``i`` is fitted with ``numpy.random.default_rng(s_i)``, where
``s_i = SeedSequence(root.entropy, spawn_key=root.spawn_key + (i,))`` is the ``i``-th child of
one root ``SeedSequence`` (what ``root.spawn`` would give). Results therefore do not depend on
the executor, the number of workers, the order in which tasks finish, or retries.

Threads: the Gaussian L2 kernel is a numba ``parallel`` function behind a lock (numba's default
``workqueue`` threading layer must not be entered by two threads at once), so multi-threaded Dask
workers are safe; they serialise on it. Local EM does not use numba.
"""

from __future__ import annotations

import concurrent.futures as cf
import inspect
import json
import math
import multiprocessing
import os
import socket
import sys
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import wire
from ._display import one_line
from ._progress import check_progress, progress_bar
from ._validation import check_int
from .data_files import read_data
from .em import fit_mixture
from .families import ExponentialFamily, get_family, resolve_family
from .rejection import Rejected
from .robust import AggregationResult, AggregationRule, aggregate, get_method

__all__ = ["LocalFits", "SplitAndConquerResult", "fit_partitions", "partition_seed", "split_and_conquer"]

#: ``fit_mixture`` arguments that the engine sets itself (or that cannot be shared by all partitions).
_RESERVED = ("X", "family", "n_components", "rng", "sample_weight", "progress")


# ---------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class LocalFits:
    """What the local fits sent back, one entry per partition (:func:`fit_partitions`).

    Attributes
    ----------
    estimates : list of TransmittedEstimate or Rejected
        The validated estimate of each partition; a :class:`~mixagg.rejection.Rejected` for a
        partition whose fit failed on every attempt ("missing machine") or whose payload failed
        validation. ``machine_id`` is the partition index.
    payloads : list of str or None
        The JSON each task returned (``None`` where none came back).
    attempts : ndarray of int
        Attempts made per partition (1 when the first succeeded).
    errors : dict of int to list of str
        The error of every failed attempt, for partitions with at least one.
    executor : str
        ``"inprocess"``, ``"processes"``, ``"concurrent.futures"`` or ``"dask"``.
    seed : numpy.random.SeedSequence
        The root of the partition seeds: pass it as ``rng`` to reproduce the run.
    elapsed : float
        Wall-clock seconds.
    """

    estimates: list[Any]
    payloads: list[str | None]
    attempts: np.ndarray
    errors: dict[int, list[str]]
    executor: str
    seed: np.random.SeedSequence
    elapsed: float

    @property
    def missing(self) -> dict[int, Rejected]:
        """Partitions whose fit failed on every attempt (no payload came back)."""
        return {i: e for i, e in enumerate(self.estimates) if isinstance(e, Rejected) and self.payloads[i] is None}

    @property
    def rejected(self) -> dict[int, Rejected]:
        """All partitions without a valid estimate: the missing ones and invalid payloads."""
        return {i: e for i, e in enumerate(self.estimates) if isinstance(e, Rejected)}

    @property
    def sample_sizes(self) -> np.ndarray:
        """Reported local sample sizes (NaN where there is no valid estimate)."""
        return np.array(
            [np.nan if isinstance(e, Rejected) or e.n_samples is None else e.n_samples for e in self.estimates]
        )

    def summary(self) -> str:
        """The local fits in a few lines: counts, time, retries and the partitions without an estimate."""
        valid = [e for e in self.estimates if not isinstance(e, Rejected)]
        converged = sum(bool((e.metadata or {}).get("converged", True)) for e in valid)
        lines = [
            f"{len(self.estimates)} partitions fitted in {self.elapsed:.1f} s ({self.executor}): "
            f"{len(valid)} valid estimates ({converged} converged), {len(self.rejected)} without one",
        ]
        retried = int(np.sum(self.attempts > 1))
        if retried:
            lines.append(f"  {retried} partitions needed more than one attempt")
        lines += [f"  [{i}] {r.reason}" for i, r in sorted(self.rejected.items())]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return one_line(
            "LocalFits",
            partitions=len(self.estimates),
            rejected=len(self.rejected),
            executor=self.executor,
            elapsed=self.elapsed,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain types: the estimates as wire JSON objects or rejection records."""
        return {
            "executor": self.executor,
            "seed_entropy": str(self.seed.entropy),
            "seed_spawn_key": list(self.seed.spawn_key),
            "elapsed": self.elapsed,
            "attempts": self.attempts.tolist(),
            "errors": {str(i): list(v) for i, v in self.errors.items()},
            "estimates": [
                e.to_dict() if isinstance(e, Rejected) else json.loads(text)
                for e, text in zip(self.estimates, self.payloads)
            ],
        }


@dataclass(frozen=True)
class SplitAndConquerResult:
    """The aggregate and everything behind it (:func:`split_and_conquer`).

    Attributes
    ----------
    aggregation : AggregationResult
        The server's result; indices refer to partitions, and partitions without a valid
        estimate are in ``aggregation.rejected`` and counted as failed machines.
    fits : LocalFits
        The local estimates, attempts and errors.
    """

    aggregation: AggregationResult
    fits: LocalFits = field(repr=False)

    @property
    def mixture(self):
        """The aggregated mixture."""
        return self.aggregation.mixture

    @property
    def missing(self) -> dict[int, Rejected]:
        """Partitions whose fit failed on every attempt."""
        return self.fits.missing

    def summary(self) -> str:
        """:meth:`LocalFits.summary` then :meth:`AggregationResult.summary`."""
        return f"{self.fits.summary()}\n{self.aggregation.summary()}"

    def __repr__(self) -> str:
        return f"SplitAndConquerResult({self.aggregation!r}, fits={self.fits!r})"

    def to_dict(self) -> dict[str, Any]:
        """Plain types (a named list in R)."""
        return {"aggregation": self.aggregation.to_dict(), "fits": self.fits.to_dict()}


# ---------------------------------------------------------------------------------------------- seeds


def _root_seed(rng: Any) -> np.random.SeedSequence:
    if rng is None:
        return np.random.SeedSequence()
    if isinstance(rng, np.random.SeedSequence):
        return rng
    if isinstance(rng, np.random.Generator):  # deterministic given the generator's state
        return np.random.SeedSequence(int.from_bytes(rng.bytes(16), "little"))
    if isinstance(rng, str):
        raise TypeError(f"rng must be None, a non-negative integer, a numpy SeedSequence or Generator, got {rng!r}")
    return np.random.SeedSequence(check_int(rng, "rng", minimum=0))


def partition_seed(root: np.random.SeedSequence, index: int) -> np.random.SeedSequence:
    """The seed of partition ``index``: the ``index``-th child of ``root`` (``root.spawn(index + 1)[index]``
    for a root that has not spawned), computed without spawning, so retries and executors agree."""
    return np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, int(index)), pool_size=root.pool_size)


# ---------------------------------------------------------------------------------------------- the task


def _is_dask(obj: Any) -> bool:
    return "dask" in sys.modules and hasattr(obj, "__dask_graph__")


def _materialise(data: Any) -> Any:
    """One partition's data as an array, where the task runs."""
    if isinstance(data, (str, os.PathLike)):
        return read_data(data)
    if callable(data) and not _is_dask(data) and not hasattr(data, "__array__"):
        data = data()
        if isinstance(data, (str, os.PathLike)):
            return read_data(data)
    if _is_dask(data):
        data = data.compute()
    if hasattr(data, "to_numpy") and not isinstance(data, np.ndarray):  # pandas DataFrame / Series
        data = data.to_numpy(dtype=float)
    return data


def _local(data: Any) -> Any:
    """A block of a dask collection computed here, before it goes to a worker process of a local pool
    (its pickled graph may hold the whole source array); anything else unchanged."""
    return data.compute() if _is_dask(data) else data


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _fit_task(
    data: Any, index: int, family: Any, n_components: Any, fit_options: dict, seed: np.random.SeedSequence
) -> str:
    """Fit one partition and return its estimate as wire JSON (the only thing that travels back)."""
    x = _materialise(data)
    start = time.perf_counter()
    fit = fit_mixture(x, family, n_components, rng=np.random.default_rng(seed), progress=False, **fit_options)
    diag = fit.diagnostics
    metadata = {
        "converged": bool(diag.converged),
        "n_iter": int(diag.n_iter),
        "loglik": _finite_or_none(diag.loglik),
        "fit_seconds": round(time.perf_counter() - start, 6),
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }
    return wire.dumps(fit, machine_id=index, n_samples=diag.n_samples, metadata=metadata)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


# ---------------------------------------------------------------------------------------------- bookkeeping


@dataclass
class _Task:
    index: int
    data: Any
    args: tuple  # everything after ``data`` for _fit_task


class _Ledger:
    """Per-partition outcomes; decides retries and drives the progress bar."""

    def __init__(self, n: int, retries: int, bar: Any):
        self.payloads: list[str | None] = [None] * n
        self.errors: dict[int, list[str]] = {}
        self.attempts = np.zeros(n, dtype=int)
        self.retries = retries
        self.bar = bar
        self.n_failed = 0

    def started(self, index: int) -> None:
        self.attempts[index] += 1

    def success(self, index: int, payload: str) -> None:
        self.payloads[index] = payload
        self.bar.update(1)

    def failure(self, index: int, exc: BaseException | str, *, final: bool = False) -> bool:
        """Record a failed attempt; ``True`` when the partition should be tried again."""
        self.errors.setdefault(index, []).append(exc if isinstance(exc, str) else _describe(exc))
        again = not final and self.attempts[index] <= self.retries
        if not again:
            self.n_failed += 1
            self.bar.update(1)
            self.bar.set_postfix(failed=self.n_failed, refresh=False)
        return again


# ---------------------------------------------------------------------------------------------- runners


def _run_inprocess(tasks: list[_Task], ledger: _Ledger) -> None:
    for task in tasks:
        while True:
            ledger.started(task.index)
            try:
                payload = _fit_task(task.data, *task.args)
            except Exception as exc:
                if ledger.failure(task.index, exc):
                    continue
            else:
                ledger.success(task.index, payload)
            break


def _run_processes(tasks: list[_Task], ledger: _Ledger, n_workers: int) -> None:
    """``n_workers`` single-process pools, one task each at a time: a dead process is charged to its own task."""
    context = multiprocessing.get_context("spawn")
    queue = deque(tasks)
    idle: list[cf.ProcessPoolExecutor] = []
    busy: dict[cf.Future, tuple[_Task, cf.ProcessPoolExecutor]] = {}
    try:
        while queue or busy:
            while queue and len(busy) < n_workers:
                task = queue.popleft()
                pool = idle.pop() if idle else cf.ProcessPoolExecutor(max_workers=1, mp_context=context)
                ledger.started(task.index)
                busy[pool.submit(_fit_task, _local(task.data), *task.args)] = (task, pool)
            done, _ = cf.wait(busy, return_when=cf.FIRST_COMPLETED)
            for fut in done:
                task, pool = busy.pop(fut)
                exc = fut.exception()
                if isinstance(exc, cf.BrokenExecutor):
                    pool.shutdown(wait=False, cancel_futures=True)
                    exc = RuntimeError(f"the worker process died ({exc})")
                else:
                    idle.append(pool)
                if exc is None:
                    ledger.success(task.index, fut.result())
                elif ledger.failure(task.index, exc):
                    queue.append(task)
    finally:
        for pool in idle + [p for _, p in busy.values()]:
            pool.shutdown(wait=False, cancel_futures=True)


def _run_executor(tasks: list[_Task], ledger: _Ledger, executor: cf.Executor) -> None:
    """A caller's ``concurrent.futures`` pool.

    Retries raising tasks; a broken pool ends the run for what it still held.
    """
    pending: dict[cf.Future, _Task] = {}
    broken: str | None = None

    def submit(task: _Task) -> None:
        nonlocal broken
        if broken is None:
            try:
                pending[executor.submit(_fit_task, _local(task.data), *task.args)] = task
            except (cf.BrokenExecutor, RuntimeError) as exc:  # broken, or shut down
                broken = f"the executor cannot take tasks ({_describe(exc)})"
            else:
                ledger.started(task.index)
                return
        ledger.failure(task.index, broken, final=True)

    for task in tasks:
        submit(task)
    while pending:
        done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
        for fut in done:
            task = pending.pop(fut)
            exc = fut.exception()
            if exc is None:
                ledger.success(task.index, fut.result())
            elif isinstance(exc, cf.BrokenExecutor):
                broken = f"the executor broke, a worker process died ({_describe(exc)}); it cannot be rebuilt"
                ledger.failure(task.index, broken, final=True)
            elif ledger.failure(task.index, exc):
                submit(task)


def _is_dask_client(executor: Any) -> bool:
    if "distributed" not in sys.modules:
        return False
    from distributed import Client

    return isinstance(executor, Client)


def _run_dask(tasks: list[_Task], ledger: _Ledger, client: Any) -> None:
    import dask
    from distributed import as_completed

    fit = dask.delayed(_fit_task, pure=False)
    owner: dict[Any, _Task] = {}
    completed = as_completed()

    def submit(task: _Task) -> None:
        ledger.started(task.index)
        if _is_dask(task.data):  # a block of a dask collection: computed where the scheduler puts it
            fut = client.compute(fit(task.data, *task.args))
        else:
            fut = client.submit(_fit_task, task.data, *task.args, pure=False)
        owner[fut] = task
        completed.add(fut)

    for task in tasks:
        submit(task)
    for fut in completed:
        task = owner.pop(fut)
        if fut.status == "finished":
            ledger.success(task.index, fut.result())
        else:
            try:
                exc = fut.exception()
            except BaseException as lost:  # cancelled, e.g. its input data was lost with a worker
                exc = lost
            if ledger.failure(task.index, exc):
                submit(task)
        fut.release()


# ---------------------------------------------------------------------------------------------- inputs


def _partitions(partitions: Any) -> list[Any]:
    if _is_dask(partitions) and hasattr(partitions, "to_delayed"):
        if hasattr(partitions, "ndim") and hasattr(partitions, "chunks"):  # dask.array
            if partitions.ndim not in (1, 2):
                raise ValueError(f"a dask array of partitions must be 1-D or 2-D, got {partitions.ndim}-D")
            if partitions.ndim == 2 and len(partitions.chunks[1]) > 1:
                partitions = partitions.rechunk({1: -1})  # one block per row chunk
            return list(np.ravel(partitions.to_delayed()))
        return list(partitions.to_delayed())  # dask.dataframe: one task per partition
    if (
        isinstance(partitions, np.ndarray)
        or hasattr(partitions, "to_numpy")
        or isinstance(partitions, (str, bytes, os.PathLike))
    ):
        raise TypeError(
            f"partitions must be a sequence of per-machine datasets (arrays, paths, loaders), a dask array or a "
            f"dask dataframe, got a single {type(partitions).__name__}; to split one array use np.array_split(X, m)"
        )
    if isinstance(partitions, Mapping):
        raise TypeError("partitions must be a sequence of per-machine datasets, got a mapping; pass list(d.values())")
    try:
        items = list(partitions)
    except TypeError:
        raise TypeError(
            f"partitions must be a sequence of per-machine datasets, got {type(partitions).__name__}"
        ) from None
    if not items:
        raise ValueError("partitions is empty: there is nothing to fit")
    for i, item in enumerate(items):
        loadable = isinstance(item, (str, os.PathLike)) or callable(item) or _is_dask(item)
        if not loadable and (item is None or isinstance(item, (Mapping, bytes)) or np.ndim(item) == 0):
            raise TypeError(
                f"partitions[{i}] must be a dataset (array-like with one row per observation), a path, a loader "
                f"or a dask collection, got {type(item).__name__}"
            )
    return items


def _fit_options(fit_options: Any) -> dict[str, Any]:
    if fit_options is None:
        return {}
    if not isinstance(fit_options, Mapping):
        raise TypeError(f"fit_options must be a mapping of fit_mixture arguments, got {type(fit_options).__name__}")
    allowed = [p for p in inspect.signature(fit_mixture).parameters if p not in _RESERVED]
    for key in fit_options:
        if key in _RESERVED:
            hint = (
                "pass rng= to the engine: partition seeds are spawned from it"
                if key == "rng"
                else "the engine shows progress over machines (progress=)"
                if key == "progress"
                else "the engine sets it"
            )
            raise ValueError(f"fit_options may not contain {key!r}: {hint}")
        if key not in allowed:
            raise TypeError(f"fit_options has unknown key {key!r}; fit_mixture takes {allowed}")
    return dict(fit_options)


def _family_spec(family: Any) -> tuple[Any, ExponentialFamily | None]:
    """What the tasks receive (picklable) and the family the caller checks payloads against, if already determined."""
    if isinstance(family, str):
        try:
            return family, get_family(family)
        except TypeError:  # settings such as Gaussian's d come from the data; the payloads are checked by name
            return family, None
    if not isinstance(family, (ExponentialFamily, Mapping)):
        raise TypeError(f"family must be a family name, an ExponentialFamily or a mapping, got {type(family).__name__}")
    fam = resolve_family(family)
    # the machines rebuild the family from its wire form, by registered name
    try:
        rebuilt = resolve_family(fam.to_dict())
    except ValueError as exc:
        raise ValueError(
            f"family {fam!r} cannot be rebuilt from its wire form {fam.to_dict()} ({exc}); "
            "register it first with mixagg.register_family(YourFamily) so the machines can rebuild it"
        ) from None
    if rebuilt != fam:
        raise ValueError(
            f"family {fam!r} is rebuilt as {rebuilt!r} from {fam.to_dict()}: "
            "its settings() must return the constructor's keywords"
        )
    return fam.to_dict(), fam


def _load(
    payloads: list[str | None], ledger: _Ledger, family: ExponentialFamily | None, name: str | None, k: Any
) -> list[Any]:
    out: list[Any] = []
    for i, text in enumerate(payloads):
        if text is None:
            errs = ledger.errors.get(i, ["no result"])
            out.append(Rejected(i, f"local fit failed after {ledger.attempts[i]} attempt(s): {errs[-1]}"))
        else:
            loaded = wire.loads(text, family=family, n_components=k)
            if not isinstance(loaded, Rejected) and loaded.machine_id != i:
                loaded = Rejected(i, f"the payload of partition {i} carries machine_id {loaded.machine_id!r}")
            out.append(loaded)
    if family is None:  # the settings came from the data: the machines must agree with the majority
        out = wire.agree_with_majority(out, family_name=name, ties="first", same_order=isinstance(k, int))
    return out


# ---------------------------------------------------------------------------------------------- public


def fit_partitions(
    partitions: Any,
    *,
    family: Any,
    n_components: int | Iterable[int],
    fit_options: Mapping[str, Any] | None = None,
    executor: Any = None,
    retries: int = 2,
    n_workers: int | None = None,
    rng: Any = None,
    progress: bool | str = "auto",
) -> LocalFits:
    """Fit every partition locally, where its data lives, and collect the validated estimates.

    The first half of :func:`split_and_conquer` (which documents the arguments); use it to
    inspect or corrupt the local estimates before aggregating them yourself.

    Returns
    -------
    LocalFits
    """
    items = _partitions(partitions)
    orders = wire.expected_orders(n_components)
    k: Any = next(iter(orders)) if len(orders) == 1 and not isinstance(n_components, Iterable) else sorted(orders)
    options = _fit_options(fit_options)
    retries = check_int(retries, "retries", minimum=0)
    progress = check_progress(progress)
    spec, expected = _family_spec(family)
    root = _root_seed(rng)
    tasks = [_Task(i, data, (i, spec, k, options, partition_seed(root, i))) for i, data in enumerate(items)]
    if executor is None or isinstance(executor, str) and executor == "inprocess":
        kind = "inprocess"
    elif isinstance(executor, str) and executor == "processes":
        kind = "processes"
        n_workers = os.cpu_count() or 1 if n_workers is None else check_int(n_workers, "n_workers", minimum=1)
    elif _is_dask_client(executor):
        kind = "dask"
    elif isinstance(executor, cf.Executor):
        kind = "concurrent.futures"
    else:
        raise TypeError(
            "executor must be None, 'inprocess', 'processes', a concurrent.futures.Executor or a "
            f"dask.distributed.Client, got {executor!r}"
        )
    if n_workers is not None and kind != "processes":
        raise ValueError(f"n_workers applies to executor='processes' only, not {kind!r}")
    start = time.perf_counter()
    with progress_bar(len(tasks), desc="local fits", unit="machine", progress=progress) as bar:
        ledger = _Ledger(len(tasks), retries, bar)
        if kind == "inprocess":
            _run_inprocess(tasks, ledger)
        elif kind == "processes":
            _run_processes(tasks, ledger, n_workers)
        elif kind == "dask":
            _run_dask(tasks, ledger, executor)
        else:
            _run_executor(tasks, ledger, executor)
    name = spec if isinstance(spec, str) else None
    estimates = _load(ledger.payloads, ledger, expected, name, k)
    return LocalFits(
        estimates=estimates,
        payloads=ledger.payloads,
        attempts=ledger.attempts,
        errors=ledger.errors,
        executor=kind,
        seed=root,
        elapsed=time.perf_counter() - start,
    )


def split_and_conquer(
    partitions: Any,
    *,
    family: Any,
    n_components: int | Iterable[int],
    fit_options: Mapping[str, Any] | None = None,
    method: str | AggregationRule = "dfmr",
    aggregate_options: Mapping[str, Any] | None = None,
    executor: Any = None,
    progress: bool | str = "auto",
    retries: int = 2,
    n_workers: int | None = None,
    rng: Any = None,
) -> SplitAndConquerResult:
    """Fit each partition where its data lives, then aggregate the local estimates robustly on the caller.

    Parameters
    ----------
    partitions : sequence, dask.array.Array or dask.dataframe.DataFrame
        One dataset per machine. Items may be arrays (or anything ``fit_mixture`` accepts),
        pandas DataFrames, paths of ``.npy``/``.csv``/``.txt`` files (read by the task, see
        :func:`mixagg.data_files.read_data`), zero-argument callables returning the data (run by
        the task, e.g. a loader of a worker's local shard) or dask collections. A dask array is
        split along its row chunks and a dask dataframe along its partitions.
    family : str, ExponentialFamily or mapping
        As in :func:`~mixagg.fit_mixture`; a name such as ``"gaussian"`` takes ``d`` from the data,
        and every machine must then agree with the first.
    n_components : int or iterable of int
        :math:`K` of every local fit (and of the aggregate); or the orders each machine chooses from by its
        criterion (``fit_options={"criterion": "bic"}``, BIC by default, ``docs/em.md``, "Choosing the order"),
        the aggregate then taking the consensus order (``aggregate_options={"n_components": K}`` fixes it).
    fit_options : mapping, optional
        Further :func:`~mixagg.fit_mixture` arguments, e.g. ``{"init": truth}`` or
        ``{"n_init": 3, "penalty": None}`` (not ``rng``: seeds come from ``rng`` below).
    method : str or AggregationRule, default "dfmr"
        A registered rule (:func:`mixagg.robust.available_methods`) or a rule instance.
    aggregate_options : mapping, optional
        Passed to :func:`~mixagg.aggregate` (e.g. ``{"rho": 1.3}``). ``sample_sizes`` defaults
        to the sample sizes the machines reported.
    executor : None, "inprocess", "processes", concurrent.futures.Executor or dask.distributed.Client
        Where the local fits run (see the module notes).
    progress : bool or "auto", default "auto"
        A progress display over machines on stderr: ``"auto"`` shows a bar on a terminal only,
        ``True`` anywhere (whole lines every few seconds off a terminal), ``False`` never
        (``docs/cli.md``, "Long runs").
    retries : int, default 2
        Further attempts for a partition whose task raised or whose worker died; after
        ``1 + retries`` failures it is reported as a missing machine.
    n_workers : int, optional
        Worker processes for ``executor="processes"`` (default: the CPU count).
    rng : None, int, SeedSequence or Generator
        Root of the per-partition seeds (:func:`partition_seed`). ``None`` draws fresh entropy,
        recorded in ``result.fits.seed``.

    Returns
    -------
    SplitAndConquerResult
        ``result.mixture`` is the aggregate; missing machines and invalid payloads are in
        ``result.aggregation.rejected`` and counted as failed machines by the majority rule.

    Raises
    ------
    RuntimeError
        When no partition produced a valid estimate (the errors are in the message).

    Examples
    --------
    >>> import numpy as np
    >>> import mixagg as ma
    >>> truth = ma.MixingDistribution("poisson", [0.4, 0.6], {"rate": [2.0, 10.0]})
    >>> rng = np.random.default_rng(0)
    >>> shards = [truth.sample(1000, rng) for _ in range(8)]
    >>> shards[3] = np.full(1000, -1.0)  # a machine whose data the fit refuses
    >>> res = ma.engine.split_and_conquer(shards, family="poisson", n_components=2, rng=1, progress=False)
    >>> sorted(res.missing), 3 in res.aggregation.excluded
    ([3], True)
    >>> res.missing[3].reason  # doctest: +ELLIPSIS
    'local fit failed after 3 attempt(s): ValueError: ...'
    >>> bool(ma.metrics.w1(res.mixture, truth) < 0.25)
    True
    """
    rule = get_method(method)
    if aggregate_options is not None and not isinstance(aggregate_options, Mapping):
        raise TypeError(f"aggregate_options must be a mapping, got {type(aggregate_options).__name__}")
    accepted = list(rule.declared_options())
    for key in aggregate_options or {}:
        if key not in accepted:
            raise TypeError(f"aggregate_options has unknown key {key!r} for method {rule.name!r}; it takes {accepted}")
    fits = fit_partitions(
        partitions,
        family=family,
        n_components=n_components,
        fit_options=fit_options,
        executor=executor,
        retries=retries,
        n_workers=n_workers,
        rng=rng,
        progress=progress,
    )
    rejected = fits.rejected
    if len(rejected) == len(fits.estimates):
        reasons = "; ".join(f"[{i}] {r.reason}" for i, r in list(rejected.items())[:3])
        raise RuntimeError(f"none of the {len(rejected)} partitions produced a valid estimate: {reasons}")
    options = dict(aggregate_options or {})
    sizes = fits.sample_sizes
    valid = [i for i in range(sizes.size) if i not in rejected]
    if "sample_sizes" not in options and np.all(np.isfinite(sizes[valid])):
        options["sample_sizes"] = np.where(np.isfinite(sizes), sizes, 1.0)
    try:
        aggregation = aggregate(fits.estimates, rule, **options)
    except (ValueError, TypeError) as exc:  # e.g. an option's value: the fits are not lost
        kept = ValueError if isinstance(exc, ValueError) else TypeError
        error = kept(f"{exc} (the local fits are kept in this exception's .fits)")
        error.fits = fits  # type: ignore[attr-defined]
        raise error from exc
    return SplitAndConquerResult(aggregation=aggregation, fits=fits)
