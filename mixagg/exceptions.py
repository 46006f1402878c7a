"""Exception and warning classes of :mod:`mixagg`.

Errors about bad arguments are plain :class:`ValueError` / :class:`TypeError`
(or subclasses of them defined here), so ``except ValueError`` keeps working.
Warnings are also recorded as data on the objects that raise them.
"""

from __future__ import annotations

__all__ = [
    "AggregationWarning",
    "ConvergenceWarning",
    "DataWarning",
    "SolverError",
    "DegenerateComponentError",
    "FamilyConformanceError",
    "MajorityWarning",
    "MixSimError",
    "NumericalWarning",
    "PluginWarning",
    "RejectedEstimatesWarning",
    "SolverWarning",
    "RUnavailableError",
    "ReductionError",
    "TheoryError",
]


ConvergenceWarning: type[Warning]


def _convergence_warning() -> type:
    from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning

    class ConvergenceWarning(SklearnConvergenceWarning):
        """An iterative algorithm stopped at its iteration limit before converging.

        Subclass of :class:`sklearn.exceptions.ConvergenceWarning`, so existing
        scikit-learn warning filters also apply to ``mixagg``. The class is built on first
        access (importing scikit-learn takes about a second, which ``import mixagg`` does not pay).
        """

    ConvergenceWarning.__module__, ConvergenceWarning.__qualname__ = __name__, "ConvergenceWarning"
    return ConvergenceWarning


def __getattr__(name: str) -> type:
    if name == "ConvergenceWarning":
        cls = globals()["ConvergenceWarning"] = _convergence_warning()
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class DataWarning(UserWarning):
    """Reading a data file changed what is fitted: rows with missing values were dropped (``na="drop"``).

    See ``docs/data_files.md``.
    """


class PluginWarning(UserWarning):
    """A plug-in (an entry point of ``mixagg.families`` / ``mixagg.rules``, or ``--import``) failed to load.

    The other plug-ins and the built-in families and rules stay available; see ``docs/plugins.md``.
    """


class SolverWarning(UserWarning):
    """An external solver (e.g. POT's network simplex) reported a problem."""


class SolverError(RuntimeError):
    """An external solver returned an unusable result (e.g. an infeasible transport problem)."""


class NumericalWarning(UserWarning):
    """A computation lost accuracy beyond what its documentation promises.

    Example: a squared L2 distance came out clearly negative, which can only
    happen through cancellation far larger than rounding (a kernel bug or
    extreme inputs).
    """


class AggregationWarning(UserWarning):
    """An aggregation rule met a situation its guarantee does not cover, or departed from its default.

    Examples: the COAT radius is 0, ARED's threshold is below 1, ``rho="auto"`` fell back to
    the family's default. The message is also recorded in ``AggregationResult.warnings``.
    """


class MajorityWarning(AggregationWarning):
    """The majority assumption (fewer than half of the machines failed) looks violated or cannot hold."""


class RejectedEstimatesWarning(AggregationWarning):
    """Some estimates were refused (malformed, inconsistent or missing) and left out of the aggregation.

    The reasons are in ``AggregationResult.rejected``; a caller that reports them itself (as the
    command line does) can filter this class without matching the message.
    """


class DegenerateComponentError(ValueError):
    """A mixture component became degenerate (empty, or singular).

    Parameters
    ----------
    message : str
        What happened and what to do about it.
    component : int or None
        Index of the offending component.
    shard : int or None
        Index of the machine/shard the component belongs to, when known.
    """

    def __init__(self, message: str, *, component: int | None = None, shard: int | None = None):
        super().__init__(message)
        self.component = component
        self.shard = shard


class FamilyConformanceError(AssertionError):
    """A family failed a property of :func:`mixagg.families.testing.check_family`.

    Attributes
    ----------
    property_name : str
        Name of the failing property (e.g. ``"expectation_map"``).
    report : FamilyCheckReport
        The full report, including the properties that passed.
    """

    def __init__(self, message: str, *, property_name: str, report=None):
        super().__init__(message)
        self.property_name = property_name
        self.report = report


class ReductionError(ValueError):
    """No start of a mixture reduction reached a partition whose barycentres the floating point can carry.

    Raised when atoms far beyond the others (e.g. a transmitted mean near :math:`10^{99}`) must be
    pooled with them; the distance-filtered rules screen such atoms out first
    (``docs/mixture_reduction.md``, "Numerical range").
    """


class TheoryError(ValueError):
    """A mixture lies outside the assumptions of the limit theory ([J] §4.2; ``docs/theory.md``).

    Examples: a zero weight or two equal components (singular Fisher information,
    not identifiable), or failure-free estimates that are no majority. Raised by
    :mod:`mixagg.theory`; ``dfmr(rho="auto")`` falls back to the default rho on it.
    """


class MixSimError(RuntimeError):
    """MixSim could not produce a mixture or an overlap (``mixagg.r_bridge``).

    See ``docs/mixsim.md``, "Pitfalls of the R package", pitfall 4.

    Raised when the overlap target is not reached within ``resN`` attempts (MixSim's ``NULL``),
    and, on the R back-end, for every way the R package fails: ``NULL`` with a printed message,
    an R ``stop()``, negative overlaps (failed Davies evaluations) or non-positive-definite
    covariances reported as success. The message carries R's own words when there are any.
    """


class RUnavailableError(ImportError):
    """``backend="r"`` was requested but rpy2, R or the R package MixSim is missing.

    The message says how to install it.
    """
