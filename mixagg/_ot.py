"""The only module that calls POT: exact optimal transport between two discrete measures.

Everything in ``mixagg`` that needs a transport plan or cost (the composite
transportation divergence, the :math:`W_1` metric) goes through :func:`transport`,
which passes POT float64 C-ordered costs, normalises the masses (with a
tolerance, recording the defect), exposes the iteration limit, checks the
marginals of the returned plan, and turns POT's result code into a ``status``
(with a :class:`~mixagg.exceptions.SolverWarning`) or an error when the plan is unusable.
:func:`assignment` solves the assignment problem (the transport problem between two sets of
equal size with unit masses) that aligns components.

The solvers are imported on first use: POT loads scikit-learn and ``scipy.optimize`` takes
most of a second, which ``import mixagg`` and the command line's ``--help`` should not pay.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._display import one_line
from ._validation import as_float_array, check_int
from .exceptions import SolverError, SolverWarning

__all__ = ["MASS_TOLERANCE", "MARGINAL_TOLERANCE", "TransportResult", "assignment", "transport"]

#: Relative difference of the total masses of the two measures accepted (then both are normalised to one).
MASS_TOLERANCE = 1e-8
#: Largest deviation of the plan's marginals from the (normalised) masses accepted after the solve.
MARGINAL_TOLERANCE = 1e-9

_STATUS = {0: "infeasible", 1: "optimal", 2: "unbounded", 3: "max_iter_reached"}


@dataclass(frozen=True)
class TransportResult:
    """An exact optimal transport solution.

    Attributes
    ----------
    value : float
        :math:`\\sum_{ij}P_{ij}C_{ij}` at the returned plan.
    plan : ndarray of shape (n_a, n_b)
        The transport plan, with marginals the normalised masses.
    status : str
        ``"optimal"`` or ``"max_iter_reached"`` (then a :class:`SolverWarning` was raised).
    mass_defect : float
        ``|sum(a) - sum(b)| / max(sum(a), sum(b))`` before normalisation.
    max_marginal_error : float
        Largest deviation of the plan's marginals from the normalised masses.
    """

    value: float
    plan: np.ndarray
    status: str
    mass_defect: float
    max_marginal_error: float

    def __repr__(self) -> str:
        return one_line(
            "TransportResult", value=self.value, plan=self.plan, status=self.status, mass_defect=self.mass_defect
        )


def _masses(value: Any, name: str) -> np.ndarray:
    arr = as_float_array(value, name, ndim=1)
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    if np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative")
    if not arr.sum() > 0:
        raise ValueError(f"{name} must have a positive total mass")
    return arr


def transport(a: Any, b: Any, cost: Any, *, max_iter: int = 100_000) -> TransportResult:
    """Solve the transport problem :math:`\\min_P\\sum_{ij}P_{ij}C_{ij}`.

    The constraints are :math:`P\\mathbf 1=a`, :math:`P^\\top\\mathbf 1=b`, :math:`P\\ge0`.

    Parameters
    ----------
    a, b : array-like of shape (n_a,), (n_b,)
        Non-negative masses with equal totals (within :data:`MASS_TOLERANCE`,
        relative); both are normalised to total one.
    cost : array-like of shape (n_a, n_b)
        Finite costs.
    max_iter : int, default 100_000
        Network-simplex iteration limit (POT's ``numItermax``).

    Returns
    -------
    TransportResult

    Raises
    ------
    ValueError
        Bad masses or costs, or totals that differ beyond the tolerance.
    SolverError
        The problem is infeasible or unbounded, or the plan's marginals are off
        (e.g. the iteration limit stopped the solver far from a feasible plan).

    Warns
    -----
    SolverWarning
        The iteration limit was reached before optimality (the plan is feasible
        but may be suboptimal); ``status`` records it.
    """
    a = _masses(a, "a")
    b = _masses(b, "b")
    c = np.ascontiguousarray(as_float_array(cost, "cost", ndim=2), dtype=np.float64)
    if c.shape != (a.size, b.size):
        raise ValueError(f"cost must have shape ({a.size}, {b.size}), got {c.shape}")
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    ta, tb = float(a.sum()), float(b.sum())
    defect = abs(ta - tb) / max(ta, tb)
    if defect > MASS_TOLERANCE:
        raise ValueError(f"a and b must have equal total mass: {ta!r} vs {tb!r} (relative difference {defect:.3g})")
    a, b = a / ta, b / tb
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # POT's own warnings are replaced by the status below
        import ot

        plan, log = ot.emd(a, b, c, numItermax=max_iter, log=True, check_marginals=False)
    status = _STATUS.get(int(log["result_code"]), f"code {log['result_code']}")
    if status in ("infeasible", "unbounded") or status.startswith("code"):
        raise SolverError(f"the transport problem is {status}: {log['warning']}")
    plan = np.asarray(plan, dtype=np.float64)
    err = float(max(np.max(np.abs(plan.sum(axis=1) - a)), np.max(np.abs(plan.sum(axis=0) - b))))
    if err > MARGINAL_TOLERANCE:
        raise SolverError(
            f"the transport plan's marginals are off by {err:.3g} (status {status}); "
            + ("increase max_iter" if status == "max_iter_reached" else "this should not happen for an optimal plan")
        )
    if status == "max_iter_reached":
        warnings.warn(
            f"the transport solver reached max_iter={max_iter} before optimality; the plan is feasible but may be "
            "suboptimal: increase max_iter",
            SolverWarning,
            stacklevel=2,
        )
    return TransportResult(float(np.sum(plan * c)), plan, status, defect, err)


def assignment(cost: Any) -> tuple[np.ndarray, np.ndarray]:
    """The optimal assignment of a rectangular cost matrix (Hungarian algorithm).

    Returns ``(rows, cols)`` as :func:`scipy.optimize.linear_sum_assignment` does: row
    ``rows[k]`` is assigned to column ``cols[k]``, minimising the total cost.
    """
    from scipy.optimize import linear_sum_assignment

    return linear_sum_assignment(cost)
