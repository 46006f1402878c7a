"""Derivatives the theory module needs from a family: an optional capability with numerical fallbacks.

:math:`H^*` and the Fisher information ([J] App. B.2, Lemma 3.1; ``docs/theory.md``)
need the Hessian of the log-partition, the Jacobian of the natural parameters
in the standard parameter vector, and the first and mixed second derivatives of
the product-integral kernel :math:`k(\\theta_a,\\theta_b)=\\int f_af_b`. A family
provides closed forms by defining the hooks of :data:`THEORY_DERIVATIVES`;
without them this module differentiates numerically
(:func:`~mixagg._differences.central_jacobian`: Richardson-extrapolated central
differences, relative error about 1e-10 for first and 1e-8 for nested second
derivatives of well-scaled parameters), or uses the exact identities of
:math:`h^2=c\\,h` for the kernel.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import numpy as np

from .._capabilities import Hook, declare_capability
from .._differences import REL_STEP, central_jacobian
from ..families.core import ProductIntegralDerivatives

if TYPE_CHECKING:
    from ..families.core import ExponentialFamily

__all__ = [
    "THEORY_DERIVATIVES",
    "hessian_unchecked",
    "log_partition_hessian",
    "natural_jacobian",
    "numeric_natural_jacobian",
    "numeric_product_integral_derivatives",
    "product_integral_derivatives",
]

Params = dict[str, np.ndarray]

#: The theory module's optional capability: closed-form derivatives a family may define.
#: Relative step of the nested differences of the mixed derivative (:func:`numeric_product_integral_derivatives`).
NESTED_REL_STEP = 1e-2

THEORY_DERIVATIVES = declare_capability(
    "theory",
    "mixagg.theory.derivatives",
    (
        Hook(
            "_log_partition_hessian(theta) -> (..., n_natural, n_natural)",
            "the Hessian of A, Cov_theta T(X): the Fisher information of one component in natural coordinates",
            "central differences of the mean map, symmetrised",
        ),
        Hook(
            "_natural_jacobian(params) -> (..., n_natural, n_params)",
            "d theta / d v against the standard parameter vector v of params_to_vector",
            "central differences of natural_from_params(params_from_vector(v))",
        ),
        Hook(
            "_product_integral_derivatives(pa, pb) -> ProductIntegralDerivatives",
            "log k and grad_a k / k, grad_b k / k, grad_a grad_b^T k / k of the L2 kernel in natural coordinates",
            "exact identities when h^2 = c h, else nested central differences of log k",
        ),
    ),
)


def log_partition_hessian(family: ExponentialFamily, theta: Any) -> np.ndarray:
    """:math:`\\nabla^2A(\\theta)=\\operatorname{Cov}_\\theta T(X)`, shape ``(..., n_natural, n_natural)``.

    The Fisher information of one component in natural coordinates; with the
    mean map it gives the derivatives of the product-integral kernel. Closed form
    from the family's ``_log_partition_hessian``, else central differences of the mean map.
    """
    return hessian_unchecked(family, family.check_natural(theta))


def hessian_unchecked(family: ExponentialFamily, theta: np.ndarray) -> np.ndarray:
    """:func:`log_partition_hessian` of natural parameters already inside the domain."""
    hook = THEORY_DERIVATIVES.find(family, "_log_partition_hessian")
    if hook is not None:
        return hook(theta)
    fast = family.unchecked
    jac, _ = central_jacobian(fast.expectation_from_natural, theta, inside=fast.in_natural_domain)
    return 0.5 * (jac + np.swapaxes(jac, -1, -2))


def natural_jacobian(family: ExponentialFamily, params: Any) -> np.ndarray:
    """:math:`\\partial\\theta/\\partial v`: natural parameters against the standard vector of ``params_to_vector``.

    Shape ``(..., n_natural, n_params)``. Maps :math:`H^*` and the Fisher information
    between natural and standard coordinates. Closed form from the family's
    ``_natural_jacobian``, else central differences.
    """
    p = family.check_params(params)
    hook = THEORY_DERIVATIVES.find(family, "_natural_jacobian")
    return hook(p) if hook is not None else numeric_natural_jacobian(family, p)


def numeric_natural_jacobian(family: ExponentialFamily, params: Params) -> np.ndarray:
    """Central differences of ``natural_from_params(params_from_vector(v))`` at valid ``params``."""
    fast = family.unchecked
    v = family.params_to_vector(params)
    jac, _ = central_jacobian(
        lambda u: fast.natural_from_params(family.params_from_vector(u)), v, inside=fast.vectors_valid
    )
    return jac


def product_integral_derivatives(family: ExponentialFamily, params_a: Any, params_b: Any) -> ProductIntegralDerivatives:
    """:math:`\\log k` and the first and mixed second derivatives of the L2 kernel, in natural coordinates.

    The building blocks of :math:`H^*` ([J] App. B.2). With :math:`h^2=ch`,
    :math:`\\eta_{ab}=\\nabla A(\\theta_a+\\theta_b)`:

    .. math::

        \\nabla_ak/k=\\eta_{ab}-\\eta_a,\\quad \\nabla_bk/k=\\eta_{ab}-\\eta_b,\\quad
        \\nabla_a\\nabla_b^\\top k/k=\\nabla^2A(\\theta_a+\\theta_b)+(\\eta_{ab}-\\eta_a)(\\eta_{ab}-\\eta_b)^\\top,

    exact. Other families define ``_product_integral_derivatives`` (Poisson: Bessel
    functions) or fall back to :func:`numeric_product_integral_derivatives`.

    Raises
    ------
    ValueError
        If the product integral diverges for some pair.
    """
    pa, pb = family.check_pair(params_a, params_b)
    if not np.all(family.unchecked.pair_integrable(pa, pb)):
        raise ValueError(f"the L2 inner product diverges for some pair. {family.divergence_hint}".rstrip())
    hook = THEORY_DERIVATIVES.find(family, "_product_integral_derivatives")
    if hook is not None:
        return hook(pa, pb)
    if family.product_log_constant is None:
        return numeric_product_integral_derivatives(family, pa, pb)
    fast = family.unchecked
    ta, tb = np.broadcast_arrays(fast.natural_from_params(pa), fast.natural_from_params(pb))
    tab = ta + tb
    eta_ab = fast.expectation_from_natural(tab)
    ga = eta_ab - fast.expectation_from_natural(ta)
    gb = eta_ab - fast.expectation_from_natural(tb)
    log_k = family.product_log_constant + fast.log_partition(tab) - fast.log_partition(ta) - fast.log_partition(tb)
    mixed = hessian_unchecked(family, tab) + ga[..., :, None] * gb[..., None, :]
    return ProductIntegralDerivatives(log_k, ga, gb, mixed)


def numeric_product_integral_derivatives(
    family: ExponentialFamily, pa: Params, pb: Params
) -> ProductIntegralDerivatives:
    """Central differences of :math:`\\log k` in natural coordinates (first: one level, mixed: nested), valid params.

    The nested differences take steps :data:`NESTED_REL_STEP` relative to the coordinates, ten times those of a
    first derivative: their rounding error grows like :math:`\\epsilon/h^2` rather than :math:`\\epsilon/h`, while
    the Richardson-extrapolated truncation error stays :math:`O(h^4)`."""
    fast = family.unchecked
    inside = fast.in_natural_domain
    ta, tb = np.broadcast_arrays(fast.natural_from_params(pa), fast.natural_from_params(pb))

    def log_k(t_a: np.ndarray, t_b: np.ndarray) -> np.ndarray:
        t_a, t_b = np.broadcast_arrays(t_a, t_b)
        return fast.log_product_integral(fast.params_from_natural(t_a), fast.params_from_natural(t_b))

    def grad_a(t_b: np.ndarray, step: float = REL_STEP) -> np.ndarray:
        t_a = np.broadcast_to(ta, t_b.shape)
        return central_jacobian(lambda t: log_k(t, t_b), t_a, rel_step=step, inside=inside)[0]

    ga = grad_a(tb)
    gb = central_jacobian(lambda t: log_k(ta, t), tb, inside=inside)[0]
    nested = functools.partial(grad_a, step=NESTED_REL_STEP)
    second = central_jacobian(nested, tb, rel_step=NESTED_REL_STEP, inside=inside)[0]  # d/d theta_b of grad_a
    return ProductIntegralDerivatives(log_k(ta, tb), ga, gb, second + ga[..., :, None] * gb[..., None, :])
