"""The atom screen: components whose share of the reduction objective no honest component could have.

The L2 distance between mixture densities is bounded and barely sees a component of small
weight, however broad or far it is: an estimate that replaces a true component of weight 2% by
a component with a covariance :math:`10^{10}` times larger (or a mean :math:`10^{6}` away) stays
well inside the COAT's ball. The KL barycentre (moment matching) does see it: a mean at distance
:math:`\\delta` and mass :math:`\\pi` moves its centre by :math:`\\pi\\delta/W` (:math:`W` the
centre's total mass) and inflates its covariance by :math:`\\pi\\delta\\delta^\\top/W`. The screen
bounds what every atom may bring to the reduction (``docs/aggregation.md``, "The atom screen").

**The score.** Atom :math:`a` (component :math:`k` of estimate :math:`i`, mass
:math:`\\pi_a=\\lambda_iw_{ik}`) is scored by its mass times its KL divergence to the nearest
component of a typical other estimate,

.. math:: t_a=\\frac{\\pi_a}{1+\\lambda_i/\\tilde\\lambda}\\,
          \\operatorname{median}_{j\\ne i}\\,\\min_l\\mathrm{KL}(f_a\\Vert f_{jl}),

its contribution to the MR objective if it were pooled with the other machines' components
([J] §3.1), :math:`\\tilde\\lambda` the median of the :math:`\\lambda_j`. For honest estimates of a
component of weight :math:`w`, the KL divergence between two of them is about
:math:`\\tfrac12\\Delta^\\top I\\Delta` with :math:`\\Delta=O_P((n_iw)^{-1/2}+(n_jw)^{-1/2})` ([J]
Lemma 4.2), so :math:`t_a=O_P(1/N)` whatever the component's weight and the machine's share
:math:`\\lambda_i=n_i/N`: one threshold serves every component and every machine. An atom is left out
when :math:`t_a>\\tau\\operatorname{median}_b t_b`
(:math:`\\tau` = :data:`SCREEN_FACTOR`, 25 by default: five times the typical parameter error, since
the KL divergence is quadratic in it; under the asymptotic :math:`\\chi^2_p` law an honest atom
exceeds it with probability below :math:`10^{-3}` for :math:`p=1` and :math:`3\\cdot10^{-8}` for
:math:`p=2`).

**What it guarantees.** An atom that passes has :math:`\\pi_a\\mathrm{KL}\\le T`, so (for a
Gaussian, where :math:`\\mathrm{KL}\\ge\\tfrac12\\delta^\\top\\Sigma^{-1}\\delta`) it moves its centre's
mean by at most :math:`\\sqrt{2T\\pi_a}/W` in the centre's own standard deviations, and its
contribution to a covariance is bounded in the same way: low-mass atoms, however broad or far, are
either screened or harmless. The medians run over all machines (not only those a filter kept, of which
colluding copies may be the most), so the score is robust to fewer than half of them (the majority
rule), including a COAT that is itself a failed estimate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import check_real
from ..mixture import MixingDistribution
from ..reduction import _atoms, cost_error_bound

__all__ = ["SCREEN_FACTOR", "AtomScreen", "screen_atoms"]

#: :math:`\\tau`: an atom whose score exceeds this multiple of the median score is left out.
SCREEN_FACTOR = 25.0
#: Fewest estimates the screen needs (a median over at least two others).
SCREEN_MIN_ESTIMATES = 3
#: Rows of the atom-by-atom cost matrix computed at once (bounds the memory to a few tens of MB).
_CHUNK = 2048


@dataclass(frozen=True)
class AtomScreen:
    """Outcome of :func:`screen_atoms`.

    Attributes
    ----------
    score : ndarray of shape (m, K_max)
        :math:`t_a` of every atom (NaN for padding and atoms of weight zero; ``inf`` where the KL
        divergence overflows).
    threshold : float
        :math:`\\tau\\operatorname{median}_b t_b` (``inf`` when the screen did not run).
    excluded : ndarray of bool, shape (m, K_max)
        The atoms left out.
    """

    score: np.ndarray
    threshold: float
    excluded: np.ndarray

    @property
    def dropped(self) -> dict[int, tuple[int, ...]]:
        """For every estimate with atoms left out, their component indices."""
        return {int(i): tuple(int(k) for k in np.flatnonzero(row)) for i, row in enumerate(self.excluded) if row.any()}


def _median_nearest_kl(atoms: Any, m: int, n_missing: int = 0) -> np.ndarray:
    """:math:`\\operatorname{median}_{j\\ne i}\\min_l\\mathrm{KL}(f_a\\Vert f_{jl})` for every atom, in blocks of rows.

    Each KL divergence is the matrix-product form plus its rounding-error bound
    (:func:`mixagg.reduction.cost_error_bound`).
    """
    fam = atoms.family
    with np.errstate(over="ignore", invalid="ignore"):
        theta, log_partition = fam.unchecked.natural_and_log_partition(atoms.params)
    owner = atoms.owner[:, 0]
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])  # atoms are stored machine by machine
    machines = owner[starts]
    out = np.empty(owner.size)
    for lo in range(0, owner.size, _CHUNK):
        rows = slice(lo, lo + _CHUNK)
        with np.errstate(over="ignore", invalid="ignore"):
            cost = log_partition[None, :] - atoms.eta[rows] @ theta.T + atoms.self_term[rows, None]
            # the largest cost consistent with rounding: an atom whose costs the floating point cannot compute
            # scores as one that no other machine resembles
            error = cost_error_bound(atoms.eta_l1[rows], atoms.self_term[rows], theta, log_partition)
            cost = np.maximum(cost, 0.0) + error
        cost = np.where(np.isnan(cost), np.inf, cost)
        nearest = np.full((cost.shape[0], m + n_missing), np.inf)  # missing machines resemble nothing
        nearest[:, machines] = np.minimum.reduceat(cost, starts, axis=1)
        nearest[np.arange(cost.shape[0]), owner[rows]] = np.nan  # an atom is not compared with its own estimate
        out[rows] = np.nanmedian(nearest, axis=1)
    return out


def screen_atoms(
    estimates: list[MixingDistribution],
    lambdas: np.ndarray,
    *,
    factor: float = SCREEN_FACTOR,
    n_missing: int = 0,
) -> AtomScreen:
    """Score every atom of the estimates and leave out those beyond ``factor`` times the median score.

    Parameters
    ----------
    estimates : list of MixingDistribution
        Validated estimates of one family: all the machines' (not only those a filter kept), so that
        the medians are taken over a population of which the failed machines are a minority. A filter
        that keeps colluding copies may keep more of them than of honest estimates.
    lambdas : ndarray of shape (m,)
        Their weights :math:`\\lambda_i` (summing to one).
    factor : float >= 1, default :data:`SCREEN_FACTOR`
        :math:`\\tau`.
    n_missing : int, default 0
        Machines expected but missing or rejected: in the median over other machines they resemble
        no atom (an infinite KL divergence).

    Returns
    -------
    AtomScreen
        With fewer than :data:`SCREEN_MIN_ESTIMATES` estimates, or a median score of 0 (more than
        half of the atoms coincide with a component of most other estimates), nothing is screened
        but atoms whose KL divergence overflows.

    Notes
    -----
    See the module's documentation for the score and the guarantee, and ``docs/aggregation.md``,
    "The atom screen". The cost is one matrix product of the atoms' expectation and natural
    parameters, :math:`O(m^2K^2p)` for :math:`p` natural parameters per component.
    """
    factor = check_real(factor, "factor", minimum=1.0)
    m = len(estimates)
    k_max = max(g.n_components for g in estimates)
    score = np.full((m, k_max), np.nan)
    excluded = np.zeros((m, k_max), dtype=bool)
    if m < SCREEN_MIN_ESTIMATES:
        return AtomScreen(score, np.inf, excluded)
    atoms = _atoms(estimates, lambdas)
    mass = atoms.mass  # normalised over the atoms of positive weight, as in the reduction
    share = lambdas[atoms.owner[:, 0]]
    t = mass / (1.0 + share / np.median(lambdas)) * _median_nearest_kl(atoms, m, n_missing)
    t = np.where(np.isnan(t), np.inf, t)
    score[atoms.owner[:, 0], atoms.owner[:, 1]] = t
    finite = t[np.isfinite(t)]
    level = float(np.median(finite)) if finite.size else 0.0
    threshold = factor * level if level > 0 else np.inf
    out = ~(t <= threshold)  # NaN and inf included
    excluded[atoms.owner[out, 0], atoms.owner[out, 1]] = True
    return AtomScreen(score, threshold, excluded)
