"""Aggregation rules as an extension point: a rule declares its options, the registry makes it usable everywhere.

A rule is one subclass of :class:`AggregationRule`: its ``name``, its :class:`Option` s (default,
validation, whether the value is per machine, its command-line parser), whether the majority
rule counts missing machines against it (``counts_missing``), and one method, ``run``, that
receives validated :class:`~mixagg.robust.pipeline.Estimates` and validated options.
:func:`register_method` makes it available to :func:`aggregate`,
:func:`mixagg.engine.split_and_conquer`, ``mixagg aggregate --method`` and ``mixagg demo``
(its ``benchmark`` rows) without editing them: the handling of rejected estimates, the
engine's option check and the command-line flags are derived from the declarations
(``docs/aggregation.md``, "Writing a rule").
"""

from __future__ import annotations

import abc
import inspect
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from .._validation import as_index_array, check_int, check_real, external_stacklevel
from ..exceptions import RejectedEstimatesWarning
from ..mixture import MixingDistribution
from ..rejection import Rejected
from .pipeline import SIZE_BOUND, Estimates, prepare
from .result import AggregationResult

__all__ = [
    "METHODS",
    "AggregationRule",
    "Option",
    "aggregate",
    "available_methods",
    "get_method",
    "register_method",
]

#: How a per-machine option is restricted to the valid machines when some estimates are rejected.
PER_MACHINE_KINDS = ("vector", "matrix", "selection")


@dataclass(frozen=True)
class Option:
    """One option of an aggregation rule.

    Attributes
    ----------
    name : str
        The keyword, e.g. ``"rho"``.
    default : object
        Used when the option is not given (never validated: it must be valid).
    check : callable ``(value, name) -> value``, optional
        Validates a given value and returns it normalised; raises ``TypeError``/``ValueError``
        naming the option. Values that depend on the number of estimates are checked by ``run``.
    per_machine : {None, "vector", "matrix", "selection"}
        One entry per machine (``sample_sizes``), one row and column per machine (``distances``)
        or a boolean mask / index set of machines (``failure_free``): such values, given for all
        machines, are restricted to the valid ones when some estimates are rejected.
    required : bool
        The option has no default.
    positional : bool
        May also be passed positionally after the estimates (``dfmr(estimates, 1.3)``).
    help : str
        One line for the signature's documentation, errors and ``--help``.
    command_line : callable ``str -> value``, optional
        The parser of ``mixagg aggregate --<name>``; ``None`` keeps the option off the command line.
    """

    name: str
    default: Any = None
    check: Callable[[Any, str], Any] | None = None
    per_machine: str | None = None
    required: bool = False
    positional: bool = False
    help: str = ""
    command_line: Callable[[str], Any] | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.name, str) and self.name.isidentifier()):
            raise ValueError(f"Option name must be a Python identifier, got {self.name!r}")
        if self.per_machine is not None and self.per_machine not in PER_MACHINE_KINDS:
            raise ValueError(f"Option per_machine must be None or one of {PER_MACHINE_KINDS}, got {self.per_machine!r}")

    def validate(self, value: Any) -> Any:
        """The checked value; ``None`` passes unchecked where it is the default (meaning "not given")."""
        if self.check is None or (value is None and self.default is None):
            return value
        return self.check(value, self.name)

    @property
    def flag(self) -> str:
        """The command-line flag, ``--max-iter`` for ``max_iter``."""
        return "--" + self.name.replace("_", "-")


def _check_sample_sizes(value: Any, name: str) -> Any:
    if isinstance(value, (str, bytes, Mapping)) or np.ndim(value) != 1:
        raise ValueError(f"{name} must be a 1-dimensional array of positive numbers, one per estimate")
    return value


#: Options every rule takes.
SAMPLE_SIZES = Option(
    "sample_sizes",
    None,
    check=_check_sample_sizes,
    per_machine="vector",
    help="local sample sizes n_i; the reduction weighs estimate i by n_i / sum n (default: equal)",
)


def _check_size_bound(value: Any, name: str) -> float | None:
    if value is None:
        return None
    return check_real(value, name, minimum=1.0, hint=" (or None for sample sizes the server knows)")


#: Options every rule takes.
SAMPLE_SIZE_BOUND = Option(
    "sample_size_bound",
    SIZE_BOUND,
    check=_check_size_bound,
    command_line=lambda text: None if text.lower() == "none" else float(text),
    help="reported sample sizes are untrusted: each is clipped to [median / b, median] (None: trusted as given)",
)
#: The order of the aggregate; by default the consensus of the kept estimates' orders.
N_COMPONENTS = Option(
    "n_components",
    None,
    check=lambda v, n: None if v is None else check_int(v, n, minimum=1),
    command_line=int,
    help="order of the aggregate (default: the lower median of the kept estimates' orders)",
)
#: The option of the rules with ``counts_missing``.
N_MISSING = Option(
    "n_missing",
    0,
    check=lambda v, n: check_int(v, n, minimum=0),
    help="machines expected but missing or rejected; the majority rule counts them as failed",
)


class _CallSignature:
    """``inspect.signature(rule)`` of a rule instance: the estimates, then its declared options.

    Read on the class itself it does not exist, so ``inspect.signature(RuleClass)`` describes
    the constructor as usual.
    """

    def __get__(self, instance: AggregationRule | None, owner: type) -> inspect.Signature:
        if instance is None:
            raise AttributeError("__signature__")
        params = [inspect.Parameter("estimates", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        declared = instance.declared_options().values()
        for o in [o for o in declared if o.positional] + [o for o in declared if not o.positional]:
            kind = inspect.Parameter.POSITIONAL_OR_KEYWORD if o.positional else inspect.Parameter.KEYWORD_ONLY
            default = inspect.Parameter.empty if o.required else o.default
            params.append(inspect.Parameter(o.name, kind, default=default))
        return inspect.Signature(params, return_annotation=AggregationResult)


class AggregationRule(abc.ABC):
    """An aggregation rule: local estimates in, an :class:`~mixagg.robust.AggregationResult` out.

    Subclasses set the class attributes and implement :meth:`run`; an instance is callable as
    ``rule(estimates, **options)`` and, once registered (:func:`register_method`), is reached by
    ``aggregate(estimates, method=rule.name, **options)``.

    Class attributes
    ----------------
    name : str
        Registry key (lower case).
    options : tuple of Option
        The rule's own options; ``sample_sizes`` (and ``n_missing`` with ``counts_missing``) are
        added to every rule.
    counts_missing : bool
        The rule relies on a majority of all expected machines: rejected and missing machines
        are passed to it as ``estimates.n_missing``.
    command_line : bool
        Offered by ``mixagg aggregate --method`` (the oracle, which needs the true failures, is not).
    benchmark : tuple of (label, options)
        The rows of ``mixagg demo``'s table (``failure_free`` is filled in by the demo).
    refused : mapping of str to str
        Options of neighbouring rules this one fixes itself, with the explanation raised as a
        ``TypeError`` (ARED: ``rho``).
    """

    name: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()
    counts_missing: ClassVar[bool] = False
    command_line: ClassVar[bool] = True
    benchmark: ClassVar[tuple[tuple[str, Mapping[str, Any]], ...]] = ()
    refused: ClassVar[Mapping[str, str]] = MappingProxyType({})

    @abc.abstractmethod
    def run(self, estimates: Estimates, **options: Any) -> AggregationResult:
        """Aggregate validated estimates with validated options (every declared option is passed)."""

    # ------------------------------------------------------------------ declarations
    @classmethod
    def declared_options(cls) -> dict[str, Option]:
        """Every option of the rule, by name.

        These are ``sample_sizes``, ``sample_size_bound``, ``n_components``, ``n_missing`` when it counts
        missing machines, and its own.
        """
        common = (SAMPLE_SIZES, SAMPLE_SIZE_BOUND, N_COMPONENTS)
        if cls.counts_missing:
            common += (N_MISSING,)
        return {o.name: o for o in (*common, *cls.options)}

    __signature__ = _CallSignature()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def bind(self, args: Sequence[Any], options: Mapping[str, Any]) -> dict[str, Any]:
        """Every declared option, validated, from positional ``args`` and keyword ``options``."""
        declared = self.declared_options()
        options = dict(options)
        positional = [o for o in declared.values() if o.positional]
        if len(args) > len(positional):
            raise TypeError(
                f"{self.name} takes {len(positional)} positional option(s) after the estimates, got {len(args)}"
            )
        for o, value in zip(positional, args):
            if o.name in options:
                raise TypeError(f"{self.name} got multiple values for option {o.name!r}")
            options[o.name] = value
        for key in options:
            if key in self.refused:
                raise TypeError(self.refused[key])
        unknown = sorted(set(options) - set(declared))
        if unknown:
            raise TypeError(f"{self.name} got unexpected options {unknown}; it takes {list(declared)}")
        values = {}
        for name, o in declared.items():
            if name in options and not (o.required and options[name] is None):
                values[name] = o.validate(options[name])
            elif o.required:
                raise ValueError(f"{self.name} needs {name}=... ({o.help})")
            else:
                values[name] = o.default
        return values

    # ------------------------------------------------------------------ calling
    def __call__(self, estimates: Any, *args: Any, **options: Any) -> AggregationResult:
        """Aggregate ``estimates`` (which may hold :class:`~mixagg.rejection.Rejected` records) with ``options``."""
        values = self.bind(args, options)
        try:  # a generator is read once, here
            entries = estimates if isinstance(estimates, (MixingDistribution, str, Mapping)) else list(estimates)
        except TypeError:
            entries = estimates  # not iterable: the estimates' own check names the problem
        if isinstance(entries, list):
            entries = one_vote_per_machine(entries)
        if isinstance(entries, list) and any(isinstance(e, Rejected) for e in entries):
            result = self._without_rejected(entries, values)
        else:
            est = prepare(
                entries,
                values.pop("sample_sizes"),
                values.pop("n_missing", 0),
                values.pop("sample_size_bound"),
                values.pop("n_components"),
            )
            result = self.run(est, **values)
        if isinstance(entries, list) and result.machine_ids is None and len(entries) == result.n_machines:
            ids = tuple(_machine_id(e) for e in entries)
            if any(i is not None for i in ids):
                result = replace(result, machine_ids=ids)
        return result

    def _without_rejected(self, entries: list[Any], values: dict[str, Any]) -> AggregationResult:
        """Aggregate the valid entries; report the rejected ones and, with ``counts_missing``, count them as failed.

        Per-machine options given for all machines are restricted to the valid ones; the
        indices of the result refer to ``entries``.
        """
        m = len(entries)
        rejected = {i: e for i, e in enumerate(entries) if isinstance(e, Rejected)}
        valid = np.array([i for i in range(m) if i not in rejected], dtype=np.intp)
        if valid.size == 0:
            reasons = "; ".join(f"[{i}] {r.reason}" for i, r in list(rejected.items())[:3])
            raise ValueError(f"all {m} estimates were rejected, nothing to aggregate (first reasons: {reasons})")
        for name, o in self.declared_options().items():
            if o.per_machine is not None and values[name] is not None:
                values[name] = _restrict(o.per_machine, values[name], valid, m, name)
        n_missing = values.pop("n_missing", 0) + (_machines(rejected.values(), entries) if self.counts_missing else 0)
        est = prepare(
            [entries[i] for i in valid],
            values.pop("sample_sizes"),
            n_missing,
            values.pop("sample_size_bound"),
            values.pop("n_components"),
        )
        result = self.run(est, **values)
        note = (
            f"{len(rejected)} of the {m} estimates were rejected and left out: "
            + "; ".join(f"[{i}] {r.reason}" for i, r in list(rejected.items())[:5])
            + (" ..." if len(rejected) > 5 else "")
        )
        warnings.warn(note, RejectedEstimatesWarning, stacklevel=external_stacklevel())

        def spread(array: np.ndarray | None, axes: int) -> np.ndarray | None:
            if array is None:
                return None
            out = np.full((m,) * axes, np.nan)
            out[np.ix_(*([valid] * axes))] = array
            return out

        return replace(
            result,
            selected=valid[result.selected],
            excluded=np.union1d(valid[result.excluded], np.fromiter(rejected, dtype=np.intp)),
            coat_index=None if result.coat_index is None else int(valid[result.coat_index]),
            distance_to_coat=spread(result.distance_to_coat, 1),
            distances=spread(result.distances, 2),
            alignments={int(valid[i]): perm for i, perm in result.alignments.items()},
            matches={int(valid[i]): match for i, match in result.matches.items()},
            orders=None if result.orders is None else _spread_orders(result.orders, valid, m),
            screened={int(valid[i]): comps for i, comps in result.screened.items()},
            clipped_sizes=valid[result.clipped_sizes],
            warnings=(note, *result.warnings),
            rejected=rejected,
        )


def _spread_orders(orders: np.ndarray, valid: np.ndarray, m: int) -> np.ndarray:
    out = np.full(m, -1, dtype=np.intp)
    out[valid] = orders
    return out


def _machines(rejected: Any, entries: list[Any]) -> int:
    """How many machines the rejected records stand for: one per machine id (a valid entry's id counts it already)."""
    valid_ids = {
        (type(i).__name__, i) for i in (_machine_id(e) for e in entries if not isinstance(e, Rejected)) if i is not None
    }
    ids, anonymous = set(), 0
    for r in rejected:
        ident = _machine_id(r)
        if ident is None:
            anonymous += 1
        elif (type(ident).__name__, ident) not in valid_ids:
            ids.add((type(ident).__name__, ident))
    return anonymous + len(ids)


def _same_estimate(a: Any, b: Any) -> bool:
    return (
        a.family == b.family
        and np.array_equal(a.weights, b.weights)
        and all(np.array_equal(a.params[key], b.params[key]) for key in a.params)
        and getattr(a, "n_samples", None) == getattr(b, "n_samples", None)
    )


def one_vote_per_machine(entries: list[Any]) -> list[Any]:
    """The entries with every repeated ``machine_id`` resolved to at most one vote.

    Estimates are matched by the id they carry (:attr:`mixagg.wire.TransmittedEstimate.machine_id`).
    When a machine's payloads are all identical, the first is kept and the copies become
    :class:`~mixagg.rejection.Rejected` records ("a copy of"); when they differ, none can be told
    from an impostor's and all of them are rejected. Either way the rejections are reported like
    any other, and the rules that rest on the majority count them as failed machines
    (``docs/aggregation.md``, "One machine, one vote"). Entries without an id are left alone.
    """
    positions: dict[Any, list[int]] = {}
    for i, e in enumerate(entries):
        ident = _machine_id(e)
        if ident is not None and not isinstance(e, Rejected):
            positions.setdefault((type(ident).__name__, ident), []).append(i)
    out = list(entries)
    for (_, ident), where in positions.items():
        if len(where) < 2:
            continue
        first = entries[where[0]]
        if all(_same_estimate(first, entries[j]) for j in where[1:]):
            for j in where[1:]:
                out[j] = Rejected(ident, f"a copy of estimate [{where[0]}] with the same machine_id {ident!r}")
        else:
            shown = ", ".join(map(str, where[:5])) + (", ..." if len(where) > 5 else "")
            for j in where:
                out[j] = Rejected(
                    ident,
                    f"machine_id {ident!r} came with {len(where)} different estimates (at [{shown}]); one machine has "
                    "one vote, and none of them can be told from an impostor's (give each machine its own id)",
                )
    return out


def _machine_id(entry: Any) -> str | int | None:
    """The id an estimate or a rejection record carries (``None`` for plain mixtures)."""
    ident = getattr(entry, "machine_id", None)
    return ident if isinstance(ident, (str, int)) and not isinstance(ident, bool) else None


def _restrict(kind: str, value: Any, valid: np.ndarray, m: int, name: str) -> Any:
    """A per-machine value given for all ``m`` machines, restricted to the ``valid`` ones (else unchanged)."""
    arr = np.asarray(value)
    if kind == "vector":
        return arr[valid] if arr.ndim == 1 and arr.shape[0] == m else value
    if kind == "matrix":
        return arr[np.ix_(valid, valid)] if arr.shape == (m, m) else value
    if arr.dtype == bool:  # a selection: a mask over all machines, or indices into them
        return arr[valid] if arr.shape == (m,) else value
    return np.isin(valid, as_index_array(arr, name))


# ---------------------------------------------------------------------------- the registry

_RULES: dict[str, AggregationRule] = {}

#: ``aggregate(method=...)`` names: a read-only, live view of the registered rules.
METHODS: Mapping[str, AggregationRule] = MappingProxyType(_RULES)


def register_method(rule: type[AggregationRule] | AggregationRule | None = None, *, overwrite: bool = False):
    """Register an aggregation rule under its ``name``; usable as a class decorator.

    Parameters
    ----------
    rule : AggregationRule subclass or instance
        A class is instantiated without arguments.
    overwrite : bool, default False
        Replace an existing rule of that name instead of raising.

    Returns
    -------
    The class or instance, unchanged (so it works as a decorator).

    Raises
    ------
    TypeError
        ``rule`` is not an :class:`AggregationRule`.
    ValueError
        The name is empty, or taken and ``overwrite`` is False.

    Examples
    --------
    >>> import mixagg as ma
    >>> from mixagg.robust import AggregationRule, pipeline, register_method
    >>> @register_method(overwrite=True)
    ... class Average(AggregationRule):
    ...     '''Mixture reduction of all estimates started from the first one.'''
    ...     name = "first-start"
    ...     def run(self, estimates):
    ...         everyone = range(estimates.m)
    ...         reduction = pipeline.reduce_selected(estimates, everyone, init=estimates.mixtures[0], restarts="none")
    ...         return pipeline.finish(self.name, estimates, everyone, pipeline.Log(), reduction=reduction)
    >>> "first-start" in ma.robust.available_methods()
    True
    """
    if rule is None:
        return lambda r: register_method(r, overwrite=overwrite)
    instance = rule() if isinstance(rule, type) and issubclass(rule, AggregationRule) else rule
    if not isinstance(instance, AggregationRule):
        raise TypeError(f"rule must be an AggregationRule subclass or instance, got {type(rule).__name__}")
    key = instance.name
    if not (isinstance(key, str) and key.strip() and key == key.strip().lower()):
        raise ValueError(f"an aggregation rule's name must be a non-empty lower-case string, got {key!r}")
    if key in _RULES and not overwrite:
        raise ValueError(f"aggregation method {key!r} is already registered (pass overwrite=True to replace it)")
    _RULES[key] = instance
    return rule


def get_method(method: str | AggregationRule) -> AggregationRule:
    """The registered rule of that name (case-insensitive), or ``method`` itself if it is a rule.

    A name not registered yet loads the installed ``mixagg.rules`` plug-ins first (``docs/plugins.md``).
    """
    if isinstance(method, AggregationRule):
        return method
    if isinstance(method, str) and method.lower() not in _RULES:
        _load_plugins()
    if not isinstance(method, str) or method.lower() not in _RULES:
        raise ValueError(f"method must be one of {sorted(_RULES)}, got {method!r}")
    return _RULES[method.lower()]


def available_methods() -> list[str]:
    """Names of the registered rules, in registration order (installed plug-ins included)."""
    _load_plugins()
    return list(_RULES)


def _load_plugins() -> None:
    from ..plugins import load_entry_points

    load_entry_points("mixagg.rules")


def aggregate(estimates: Sequence[Any], method: str | AggregationRule = "dfmr", **options: Any) -> AggregationResult:
    """Aggregate local estimates with a registered rule (``"dfmr"`` by default, :data:`METHODS`).

    ``options`` are the rule's (:meth:`AggregationRule.declared_options`), e.g.
    ``aggregate(est, "dfmr", rho=1.3)``, ``aggregate(est, "trim", eta=0.5)``,
    ``aggregate(est, "oracle", failure_free=mask)``.

    ``estimates`` may mix estimates with :class:`~mixagg.rejection.Rejected` records (what
    :func:`mixagg.wire.loads` returns for a malformed payload): those are left out, listed with
    their reasons in ``result.rejected`` and in ``result.excluded`` (a
    :class:`~mixagg.exceptions.RejectedEstimatesWarning` says so), and counted as failed machines
    by the rules that rest on the majority rule (``n_missing``), which is then judged on all
    expected machines. Indices in the result refer to positions in ``estimates``; per-machine
    options may be given for all of them.

    Examples
    --------
    >>> import numpy as np
    >>> import mixagg as ma
    >>> truth = ma.MixingDistribution("poisson", [0.5, 0.5], {"rate": [2.0, 12.0]})
    >>> rng = np.random.default_rng(0)
    >>> local = [ma.fit_mixture(truth.sample(2000, rng), "poisson", 2, init=truth) for _ in range(10)]
    >>> local, failed = ma.attacks.rate_failure(local, alpha=0.3, rng=1)
    >>> res = ma.aggregate(local, "dfmr")
    >>> set(np.flatnonzero(failed).tolist()) <= set(res.excluded.tolist())  # every failed machine is filtered out
    True
    >>> round(ma.metrics.w1(res.mixture, truth), 2)
    0.11
    """
    return get_method(method)(estimates, **options)
