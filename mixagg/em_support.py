"""What the EM asks of a family beyond the contract: an optional capability with generic fallbacks.

:func:`mixagg.fit_mixture` ([J] App. A.1; ``docs/em.md``) needs, besides the
family's log-density and weighted MLE, a few decisions only a family can make
well: its regulariser and penalty, how to keep an M-step inside the parameter
space, how to recognise a degenerate component, and a fast E-step. A family
provides any of them by defining the hook named in :data:`EM_SUPPORT`; without
it the EM uses the fallback documented next to each function below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ._capabilities import Hook, declare_capability

if TYPE_CHECKING:
    from .families.core import ExponentialFamily
    from .families.penalties import Penalty

__all__ = [
    "EM_SUPPORT",
    "component_problems",
    "default_penalty",
    "default_reg",
    "generic_component_problems",
    "log_component_densities",
    "penalty_for",
    "regularisation_binding",
    "regularise_expectation",
]

Params = dict[str, np.ndarray]

#: The EM's optional capability: the hooks a family may define for :func:`mixagg.fit_mixture`.
EM_SUPPORT = declare_capability(
    "em",
    "mixagg.em_support",
    (
        Hook(
            "default_reg: float",
            "regulariser of the unpenalised M-step when fit_mixture(reg=None)",
            "0 (the exact MLE)",
        ),
        Hook(
            "_default_penalty(x, weights) -> Penalty | None",
            "the penalty of the papers for penalty='auto', strength n^-1/2 with n = sum(weights)",
            "None (no penalty)",
        ),
        Hook(
            "_regularise_expectation(eta, reg, reference) -> eta",
            "move averaged expectation parameters into the interior (the generic weighted MLE with reg > 0); "
            "reference is the weighted mean of T(x) over all the data",
            "eta unchanged",
        ),
        Hook(
            "_regularisation_binding(params, reg, x, weights) -> bool array",
            "which components sit on the boundary the regulariser imposes (reported as a warning)",
            "none",
        ),
        Hook(
            "_component_problems(params) -> list[list[str]]",
            "problems of each fitted component (batch (K,)): validity and numerical degeneracy",
            "the validation problems of each component",
        ),
        Hook(
            "_log_component_densities(x, params) -> (n, K)",
            "the E-step's log-densities of data (n, *event) under components (K,)",
            "family.unchecked.logpdf on broadcast axes",
        ),
    ),
)


def default_reg(family: ExponentialFamily) -> float:
    """The regulariser ``fit_mixture`` uses without a penalty when ``reg=None``: ``family.default_reg``, else 0."""
    value = EM_SUPPORT.find(family, "default_reg")
    return 0.0 if value is None else float(value)


def default_penalty(family: ExponentialFamily, x: Any, sample_weight: Any = None) -> Penalty | None:
    """The penalty the papers use for this family on data ``x``; ``None`` when the MLE needs none.

    Returns a :class:`~mixagg.families.penalties.Penalty` with strength
    :math:`a_n=n^{-1/2}`, :math:`n=\\sum_j` ``sample_weight`` ([J] §5.1.2; ``docs/em.md``).
    Fallback: ``None``.
    """
    xa = family.check_x(x)
    n = xa.shape[0]
    w = np.ones(n) if sample_weight is None else family.check_masses(sample_weight, n, "sample_weight")
    return penalty_for(family, xa, w)


def penalty_for(family: ExponentialFamily, x: np.ndarray, weights: np.ndarray) -> Penalty | None:
    """:func:`default_penalty` on validated data ``(n, *event)`` and weights ``(n,)``."""
    hook = EM_SUPPORT.find(family, "_default_penalty")
    return None if hook is None else hook(x, weights)


def regularise_expectation(family: ExponentialFamily, eta: np.ndarray, reg: float, reference: np.ndarray) -> np.ndarray:
    """Averaged expectation parameters moved into the interior by the regulariser ``reg``; fallback: unchanged."""
    hook = EM_SUPPORT.find(family, "_regularise_expectation")
    return eta if hook is None else hook(eta, reg, reference)


def regularisation_binding(
    family: ExponentialFamily, params: Params, reg: float, x: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Which components ``(K,)`` sit on the boundary imposed by ``reg``; fallback: none."""
    hook = EM_SUPPORT.find(family, "_regularisation_binding")
    if hook is None:
        return np.zeros(family.batch_shape(params), dtype=bool)
    return np.asarray(hook(params, reg, x, weights))


def generic_component_problems(family: ExponentialFamily, params: Params) -> list[list[str]]:
    """The validation problems of each component of ``params`` (batch ``(K,)``).

    The fallback of :func:`component_problems`.
    """
    return [family.unchecked.validate(family.take(params, [k])) for k in range(family.batch_shape(params)[0])]


def component_problems(family: ExponentialFamily, params: Params) -> list[list[str]]:
    """Problems of each fitted component (empty lists when all are fine).

    Fallback: :func:`generic_component_problems`.
    """
    hook = EM_SUPPORT.find(family, "_component_problems")
    return generic_component_problems(family, params) if hook is None else hook(params)


def log_component_densities(family: ExponentialFamily, x: np.ndarray, params: Params) -> np.ndarray:
    """``log f(x_j; theta_k)`` for data ``(n, *event)`` and components ``(K,)``: shape ``(n, K)`` (the E-step)."""
    hook = EM_SUPPORT.find(family, "_log_component_densities")
    if hook is not None:
        return hook(x, params)
    index = (slice(None), None) + (slice(None),) * len(family.event_shape)
    return family.unchecked.logpdf(x[index], params)
