"""The built-in aggregation rules: COAT, DFMR and its configurations CRED and ARED, TRIM, vanilla MR and the oracle.

Each is an :class:`~mixagg.robust.rules.AggregationRule` built from the stages of
:mod:`mixagg.robust.pipeline`, registered under its name, and exposed as a callable
(``mixagg.robust.dfmr(estimates, rho=1.3)``). The distance-based ones (COAT, DFMR, CRED, ARED)
rest on the **majority rule**: they tolerate any behaviour of fewer than half of the machines
(breakdown point just below 1/2), provided the failure-free estimates concentrate around the
truth (their L2 distances are :math:`O_P(n^{-1/2})`, [J] Lemma 4.2). See ``docs/aggregation.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

import numpy as np

from .._validation import as_generator, as_index_array, check_choice, check_int, check_real
from ..exceptions import TheoryError
from ..reduction import trimmed_reduction
from .coat import RADIUS_RULES
from .pipeline import (
    CoatStep,
    Estimates,
    Log,
    distance_filter,
    finish,
    heaviest_atoms,
    locate_coat,
    pairwise_distances,
    reduce_selected,
    screen_selected,
)
from .result import AggregationResult
from .rules import AggregationRule, Option, register_method
from .screen import SCREEN_FACTOR
from .spectral import (
    SPECTRAL_COVERAGE,
    SPECTRAL_TOP,
    SpectralStage,
    spectral_filter,
    spectral_thresholds,
    spread_scale,
)

__all__ = [
    "ARED",
    "COAT",
    "CRED",
    "DFMR",
    "SFMR",
    "TRIM",
    "Oracle",
    "Vanilla",
    "ared",
    "ared_threshold",
    "coat",
    "cred",
    "dfmr",
    "oracle",
    "sfmr",
    "trim",
    "vanilla",
]

#: The inflation factor of a family that declares none (the papers' value for Gaussian mixtures, [J] §5.1.3).
DEFAULT_RHO = 1.3


def _check_rho(value: Any, name: str = "rho") -> float | str:
    if isinstance(value, str):
        if value != "auto":
            raise ValueError(f"{name} must be a number >= 1 or 'auto', got {value!r}")
        return value
    return check_real(value, name, minimum=1.0, hint=" (the COAT radius itself)")


def _parse_rho(text: str) -> float | str:
    return text if text == "auto" else float(text)


def _check_mapping(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a dict of suggest_rho options, got {type(value).__name__}")
    return value


def _check_bool(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__}")
    return bool(value)


def _choice(*choices: str):
    return lambda value, name: check_choice(value, name, choices, case=True)


RADIUS = Option(
    "radius",
    "majority",
    check=_choice(*RADIUS_RULES),
    help="how the COAT radius counts half (majority, half, median, code)",
    command_line=str,
)
DISTANCES = Option("distances", None, per_machine="matrix", help="precomputed (m, m) L2 distances of the estimates")
RESTARTS = Option(
    "restarts",
    "auto",
    check=_choice("auto", "all", "none"),
    command_line=str,
    help="MR starts besides the first: the selected estimates (auto), all estimates (all) or none",
)
TOL = Option(
    "tol",
    1e-8,
    check=lambda v, n: check_real(v, n, minimum=0.0),
    command_line=float,
    help="relative decrease of the MR objective that stops it",
)
MAX_ITER = Option(
    "max_iter", 1000, check=lambda v, n: check_int(v, n, minimum=1), command_line=int, help="MR iterations per start"
)
RHO = Option(
    "rho",
    None,
    check=_check_rho,
    positional=True,
    command_line=_parse_rho,
    help="DFMR's inflation factor, a number >= 1 or 'auto' (default: the family's)",
)


def _check_screen(value: Any, name: str) -> float | None:
    if value is None:
        return None
    return check_real(value, name, minimum=1.0, hint=" (or None to turn the atom screen off)")


def _parse_screen(text: str) -> float | None:
    return None if text.lower() == "none" else float(text)


SCREEN = Option(
    "screen",
    SCREEN_FACTOR,
    check=_check_screen,
    command_line=_parse_screen,
    help="the atom screen's factor tau (components beyond tau times the median share of the MR objective are "
    "left out; none: off, the papers' rule)",
)
RHO_OPTIONS = Option("rho_options", None, check=_check_mapping, help="options of suggest_rho with rho='auto'")


# ---------------------------------------------------------------------------- COAT and DFMR


class COAT(AggregationRule):
    """Centre Of ATtention: the estimate with the smallest majority radius ([J] eq. (10)).

    A single local estimate, so only :math:`n^{-1/2}`-consistent ([J] Prop. 4.3), but tolerant
    of any failure of fewer than half of the machines (breakdown point just below 1/2): its
    majority ball always holds a failure-free estimate. See :func:`~mixagg.robust.coat_radius`
    for how "half" is counted.

    Parameters
    ----------
    estimates : sequence of MixingDistribution
        Local estimates of one family and one order :math:`K`.
    sample_sizes : array-like, optional
        Used by the majority check only (distances are scaled by them).
    radius : {"majority", "half", "median", "code"}
    distances : ndarray of shape (m, m), optional
        A precomputed :func:`~mixagg.l2_distance_matrix` of ``estimates``.
    n_missing : int
        Machines expected but missing or rejected; they count against the majority.
    """

    name = "coat"
    refused = MappingProxyType(
        {"n_components": "coat returns one of the estimates, of its own order; use dfmr(n_components=...)"}
    )
    counts_missing = True
    options = (RADIUS, DISTANCES)
    benchmark = (("COAT", {}),)

    def run(self, estimates: Estimates, *, radius: str, distances: Any) -> AggregationResult:
        log = Log()
        coat = locate_coat(estimates, pairwise_distances(estimates, distances), radius, log)
        return finish(self.name, estimates, [coat.index], log, mixture=estimates.mixtures[coat.index], coat=coat)


class DFMR(AggregationRule):
    """Distance-Filtered Mixture Reduction ([J] eq. (11)–(12), Algorithm 1).

    The pipeline: pairwise L2 distances -> the COAT and its radius -> the filter
    :math:`\\mathbb S_\\rho=\\{i:\\mathsf D_{ci}\\le\\rho\\,r^{\\rm COAT}\\}` -> mixture reduction of
    the kept estimates (weights :math:`\\lambda_i\\propto n_i`) to :math:`K` components, started
    from the COAT and from every kept estimate -> alignment of the kept estimates to the aggregate.

    Breakdown point just below 1/2 (the majority rule). Assumes the failure-free estimates
    concentrate ([J] Lemma 4.2) and, for DFMR to match the oracle, that failed estimates
    rarely fall close to the truth ([J] Cor. 4.5). CRED and ARED are DFMR with another
    choice of :math:`\\rho`, the radius rule and the filter inequality (:meth:`configure`).

    Parameters
    ----------
    rho : float >= 1 or "auto", optional
        Inflation factor; default ``family.default_rho`` (1.3 Gaussian, 2 Gamma; [J] §5.1.3, §D.3).
        ``"auto"``: :func:`mixagg.theory.suggest_rho`, the :math:`\\rho` that keeps ``coverage`` = 99%
        of the failure-free estimates by their predicted distance law (``docs/suggest_rho.md``),
        reported in ``result.rho_suggestion``.
    sample_sizes : array-like of shape (m,), optional
        Local sample sizes (MR weights :math:`\\lambda_i=n_i/\\sum n`); default equal.
    radius : {"majority", "half", "median", "code"}
        How the COAT radius counts "half" (:func:`~mixagg.robust.coat_radius`).
    distances : ndarray of shape (m, m), optional
        Precomputed pairwise L2 distances (e.g. to scan many ``rho``).
    restarts : {"auto", "all", "none"}, default "auto"
        MR starts besides the COAT: every selected estimate (``"auto"``), every estimate
        including those filtered out (``"all"``, as the authors' code), or none.
    tol, max_iter
        Passed to :func:`~mixagg.reduction.mixture_reduction`.
    screen : float >= 1 or None, default 25
        The atom screen's factor :math:`\\tau` (:func:`mixagg.robust.screen.screen_atoms`): a
        component of a kept estimate whose share of the MR objective exceeds :math:`\\tau` times the
        median share is left out of the reduction (a broad or far component of small weight, which
        the L2 filter cannot see and moment matching would follow;
        ``docs/aggregation.md``, "The atom screen"), and listed in ``result.screened``. ``None``: no
        screen, the rule of the papers.
    rho_options : dict, optional
        With ``rho="auto"``: options of :func:`~mixagg.theory.suggest_rho` (``coverage``,
        ``target``, ``n_boot``, ``rng``, ...). Its bootstrap is seeded with 0 unless ``rng`` is
        given, so the aggregate is reproducible.
    n_missing : int
        Machines expected but missing or rejected; they count against the majority.

    Warns
    -----
    MajorityWarning
        No majority cluster around the COAT, or too many machines missing for a majority.
    AggregationWarning
        :math:`r^{\\rm COAT}=0` (more than half of the estimates identical: only those are kept),
        or ``rho="auto"`` fell back to the family's default.
    """

    name = "dfmr"
    counts_missing = True
    options = (RHO, RADIUS, DISTANCES, RESTARTS, TOL, MAX_ITER, SCREEN, RHO_OPTIONS)
    benchmark = (("DFMR(1.3)", {"rho": 1.3}), ("DFMR(auto)", {"rho": "auto"}))

    def configure(self, estimates: Estimates, options: dict[str, Any], log: Log) -> tuple[float | str, str, bool]:
        """:math:`\\rho` (or ``"auto"``), the radius rule and whether the filter inequality is strict.

        DFMR: the ``rho`` option or the family's ``default_rho``, the ``radius`` option, ``<=`` as
        [J] eq. (11) (Algorithm 1 prints ``<``; ``docs/aggregation.md``, "DFMR").
        """
        rho = options["rho"]
        if options["rho_options"] is not None and rho != "auto":
            raise ValueError("rho_options applies to rho='auto' only")
        if rho is None:
            rho = _check_rho(getattr(estimates.family, "default_rho", DEFAULT_RHO))
        return rho, options["radius"], False

    def run(self, estimates: Estimates, **options: Any) -> AggregationResult:
        log = Log()
        rho, radius, strict = self.configure(estimates, options, log)
        coat = locate_coat(estimates, pairwise_distances(estimates, options["distances"]), radius, log)
        suggestion = None
        if rho == "auto":
            rho, suggestion = _auto_rho(estimates, coat, radius, options["rho_options"], log)
        selected = distance_filter(estimates, coat, rho, log, strict=strict)
        selected, factors, extra = self.reweight(estimates, coat, selected, rho, radius, suggestion, options, log)
        screen = screen_selected(estimates, selected, options["screen"], log)
        reduction = reduce_selected(
            estimates,
            selected,
            init=estimates.mixtures[coat.index],
            restarts=options["restarts"],
            tol=options["tol"],
            max_iter=options["max_iter"],
            screen=screen,
            factors=factors,
        )
        return finish(
            self.name,
            estimates,
            selected,
            log,
            reduction=reduction,
            coat=coat,
            screen=screen,
            rho=rho,
            rho_suggestion=suggestion,
            **extra,
        )

    def reweight(
        self,
        estimates: Estimates,
        coat: CoatStep,
        selected: np.ndarray,
        rho: float,
        radius: str,
        suggestion: Any,
        options: dict[str, Any],
        log: Log,
    ) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
        """A stage between the filter and the reduction: the estimates kept, factors on their weights, result fields.

        DFMR keeps what the filter selected at full weight; :class:`SFMR` adds its spectral stage here.
        """
        return selected, None, {}


def _auto_rho(
    estimates: Estimates, coat: CoatStep, radius: str, rho_options: Mapping[str, Any] | None, log: Log
) -> tuple[float, Any]:
    """:math:`\\rho` from the predicted law of the honest distances, or the family's default.

    See ``docs/suggest_rho.md``.
    """
    from ..theory.rho import suggest_rho

    options = {"rng": 0, **(rho_options or {})}
    for key in ("distances", "radius", "sample_sizes"):
        if key in options:
            raise ValueError(f"rho_options must not set {key!r}: dfmr passes its own")
    rho = _check_rho(getattr(estimates.family, "default_rho", DEFAULT_RHO))
    if estimates.m < 3 or coat.radius == 0 or np.isinf(coat.radius):
        if estimates.m > 1:
            log.warn(f"rho='auto' needs at least 3 distinct estimates; using the family's default rho = {rho:g}")
        return rho, None
    try:
        suggestion = suggest_rho(
            list(estimates.mixtures),
            distances=coat.distances,
            radius=radius,
            sample_sizes=estimates.sample_sizes,
            **options,
        )
    except TheoryError as exc:  # e.g. the COAT has two equal components: its Fisher information is singular
        log.warn(f"rho='auto' failed ({exc}); using the family's default rho = {rho:g}")
        return rho, None
    return suggestion.rho, suggestion


_DFMR_REDUCTION = (DISTANCES, RESTARTS, TOL, MAX_ITER, SCREEN)


def _open_unit(value: Any, name: str) -> float:
    value = check_real(value, name)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must lie in (0, 1), got {value!r}")
    return value


class SFMR(DFMR):
    """Spectrally Filtered Mixture Reduction: DFMR with :math:`\\rho` = ``"auto"`` and a spectral stage.

    After the distance filter, the kept estimates' largest spread in the L2 space of densities
    (:math:`\\mu_1/r^2`, the leading eigenvalue of their weighted covariance over the squared COAT
    radius) is compared with its simulated law for failure-free estimates, from the same
    eigenvalues :math:`\\lambda=\\operatorname{eig}(I^{-1}H^*)` that choose :math:`\\rho`; while it exceeds
    the ``spectral_coverage`` quantile, the estimate farthest along the leading direction is removed
    (:func:`mixagg.robust.spectral.spectral_filter`), never below a majority of the expected machines.
    Colluders that lean together to pass the filter (threshold hugging, ALIE, inner-product
    manipulation) pay in that spread (``docs/aggregation.md``, "The spectral stage"). Then the atom
    screen and MR as :class:`DFMR`; ``result.spectral`` reports the stage.

    Parameters
    ----------
    spectral_coverage : float in (0, 1), default 0.99
        The probability, under the honest law, that the stage removes nothing.
    rho, radius, distances, restarts, tol, max_iter, screen, rho_options
        As :class:`DFMR`, except that ``rho`` defaults to ``"auto"``.
    """

    name = "sfmr"
    options = (
        replace(RHO, default="auto", help="the inflation factor, a number >= 1 or 'auto' (default)"),
        RADIUS,
        *_DFMR_REDUCTION,
        RHO_OPTIONS,
        Option(
            "spectral_coverage",
            SPECTRAL_COVERAGE,
            check=_open_unit,
            command_line=float,
            help="probability that the spectral stage removes no failure-free estimate",
        ),
    )
    benchmark = (("SFMR", {}),)

    def reweight(
        self,
        estimates: Estimates,
        coat: CoatStep,
        selected: np.ndarray,
        rho: float,
        radius: str,
        suggestion: Any,
        options: dict[str, Any],
        log: Log,
    ) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
        """The spectral stage (:func:`mixagg.robust.spectral.spectral_filter`), reported as ``result.spectral``."""
        coverage = options["spectral_coverage"]
        stage = _spectral_stage(estimates, coat, selected, rho, radius, suggestion, options["rho_options"], coverage)
        if stage is None:
            log.warn("the spectral stage needs the honest law (rho='auto' fell back); only the distance filter ran")
            return selected, None, {}
        if not stage.reweighted:
            return selected, None, {"spectral": stage}
        low = sorted(stage.reweighted.items(), key=lambda kv: kv[1])
        shown = ", ".join(f"[{i}] {f:.2g}" for i, f in low[:8]) + (" ..." if len(low) > 8 else "")
        log.warn(
            f"the spectral stage reweighted {len(low)} estimate(s) ({stage.removed.size} to 0): the kept "
            f"estimates spread {stage.statistic:.3g} times as far along one direction as the honest "
            f"{coverage:.0%} quantile, as when colluders lean one way; factors {shown}"
        )
        keep = stage.factors > 0
        return stage.positions[keep], stage.factors[keep], {"spectral": stage}


def _spectral_stage(
    estimates: Estimates,
    coat: CoatStep,
    selected: np.ndarray,
    rho: float,
    radius: str,
    suggestion: Any,
    rho_options: Mapping[str, Any] | None,
    coverage: float,
) -> SpectralStage | None:
    """The spectral stage on the estimates the distance filter ``selected``, or ``None`` without an honest law."""
    from ..theory.concentration import distance_eigenvalues
    from ..theory.rho import _Draws

    if estimates.m < 3 or coat.radius == 0 or not np.isfinite(coat.radius) or selected.size < 3:
        return None
    options = {"rng": 0, **(rho_options or {})}
    gen = as_generator(options["rng"])
    if suggestion is None:
        try:
            lam = distance_eigenvalues(estimates.mixtures[coat.index], rng=gen)
        except TheoryError:
            return None
        n_honest = selected.size
    else:
        lam, n_honest = suggestion.eigenvalues, suggestion.n_honest
    lam = lam[lam > 0]
    dc = coat.distance_to_coat
    honest = np.sort(np.argsort(dc, kind="stable")[:n_honest])
    absolute = estimates.sample_sizes is not None
    sizes = estimates.sample_sizes if absolute else estimates.lambdas
    draws = _Draws.make(lam, sizes, options.get("n_boot", 500), gen)
    n_top = min(SPECTRAL_TOP, lam.size, selected.size - 1)
    thresholds, reference = spectral_thresholds(
        draws, honest, estimates.m, radius, rho, estimates.lambdas, coverage, n_top, absolute=absolute
    )
    scale = spread_scale(coat.radius**2, reference, absolute)
    floor = min(selected.size, estimates.n_expected // 2 + 1)
    d2 = coat.distances[np.ix_(selected, selected)] ** 2
    factors, first, final = spectral_filter(d2, estimates.lambdas[selected], scale, thresholds, floor)
    return SpectralStage(first, thresholds, selected, factors, final)


class CRED(DFMR):
    """COAT-based REDuction ([A] eq. (4)): DFMR with :math:`\\rho=1`.

    With ``strict=True``, the literal rule of [A]: the radius of [A] §3.1 (``radius="half"``) and
    the strict inequality :math:`\\mathsf D_{cj}<r^{\\rm COAT}`, which keeps
    :math:`\\lceil m/2\\rceil-1` estimates besides ties, fewer than half
    (``docs/aggregation.md``, "CRED"). Breakdown point just below 1/2. Other options as :class:`DFMR`.
    """

    name = "cred"
    options = (
        Option("strict", False, check=_check_bool, help="the literal rule of [A]: radius 'half' and a strict filter"),
        Option(
            "radius",
            None,
            check=_choice(*RADIUS_RULES),
            command_line=str,
            help="how the COAT radius counts half (default majority; half with strict)",
        ),
        *_DFMR_REDUCTION,
    )
    benchmark = (("CRED", {}),)
    refused = MappingProxyType({"rho": "cred sets rho = 1 itself; use dfmr(rho=...) for another value"})

    def configure(self, estimates: Estimates, options: dict[str, Any], log: Log) -> tuple[float, str, bool]:
        if options["strict"]:
            if options["radius"] is not None:
                raise TypeError(
                    "cred(strict=True) got unexpected options ['radius'] (the literal rule fixes radius='half')"
                )
            return 1.0, "half", True
        return 1.0, options["radius"] or "majority", False

    def run(self, estimates: Estimates, **options: Any) -> AggregationResult:
        return super().run(estimates, rho_options=None, **options)


def ared_threshold(m: int) -> float:
    """:math:`\\kappa_m=\\sqrt{\\tfrac12\\log(m/2)\\,\\log\\log m}` of ARED ([A] eq. (5)).

    Defined for :math:`m\\ge3`.
    """
    m = check_int(m, "m")
    if m < 3:
        raise ValueError(f"kappa_m is defined for m >= 3, got m={m}")
    return math.sqrt(0.5 * math.log(m / 2) * math.log(math.log(m)))


class ARED(DFMR):
    """Adaptive REDuction ([A] eq. (5)): DFMR with :math:`\\rho=\\max(1,\\kappa_m)`, :func:`ared_threshold`.

    :math:`m` counts every expected machine (missing ones included). The excluded set is ARED's
    detected failure set :math:`\\widehat{\\mathbb B}` (``result.detected``). :math:`\\kappa_m<1`
    for :math:`m\\le14` (then :math:`\\rho=1` and a warning). Breakdown point just below 1/2;
    [A] Thm 4.1 claims exact detection when failed estimates are well separated from the honest
    ones. Other options as :class:`DFMR`.
    """

    name = "ared"
    options = (RADIUS, *_DFMR_REDUCTION)
    benchmark = (("ARED", {}),)
    refused = MappingProxyType({"rho": "ared sets rho = max(1, kappa_m) itself; use dfmr(rho=...) for another value"})

    def configure(self, estimates: Estimates, options: dict[str, Any], log: Log) -> tuple[float, str, bool]:
        m = estimates.n_expected
        if m < 3:
            kappa, note = 1.0, f"ARED's threshold kappa_m is undefined for m={m} < 3; rho = 1 is used"
        else:
            kappa = ared_threshold(m)
            note = (
                f"kappa_m = {kappa:.3g} < 1 for m={m} <= 14; rho = max(1, kappa_m) = 1 is used" if kappa < 1 else None
            )
        if note:
            log.warn(note)
        return max(1.0, kappa), options["radius"], False

    def run(self, estimates: Estimates, **options: Any) -> AggregationResult:
        return super().run(estimates, rho_options=None, **options)


# ---------------------------------------------------------------------------- reductions without a filter

_MR_RESTARTS = replace(RESTARTS, help="MR starts: every estimate (auto or all) or the first one only (none)")


class Vanilla(AggregationRule):
    """Mixture reduction of all estimates, no filtering ("GMR" in [A]; ``docs/aggregation.md``, "Vanilla and oracle").

    Not Byzantine tolerant: a single failed machine can move the aggregate arbitrarily far
    (breakdown point 0). Started from every estimate.
    """

    name = "vanilla"
    options = (_MR_RESTARTS, TOL, MAX_ITER)
    benchmark = (("vanilla", {}),)

    def run(self, estimates: Estimates, *, restarts: str, tol: float, max_iter: int) -> AggregationResult:
        everyone = np.arange(estimates.m)
        reduction = reduce_selected(estimates, everyone, restarts=restarts, tol=tol, max_iter=max_iter)
        return finish(self.name, estimates, everyone, Log(), reduction=reduction)


class Oracle(AggregationRule):
    """Mixture reduction of the failure-free estimates only (OMR; a benchmark, it needs the true failure set).

    Parameters
    ----------
    failure_free : array-like of bool (m,) or of int indices
        Which estimates are failure-free (required).
    """

    name = "oracle"
    options = (
        Option(
            "failure_free",
            required=True,
            per_machine="selection",
            help="a boolean mask or the indices of the failure-free estimates",
        ),
        _MR_RESTARTS,
        TOL,
        MAX_ITER,
    )
    command_line = False
    benchmark = (("oracle", {}),)

    def run(
        self, estimates: Estimates, *, failure_free: Any, restarts: str, tol: float, max_iter: int
    ) -> AggregationResult:
        selected = _failure_free(failure_free, estimates.m)
        reduction = reduce_selected(estimates, selected, restarts=restarts, tol=tol, max_iter=max_iter)
        return finish(self.name, estimates, selected, Log(), reduction=reduction)


def _failure_free(value: Any, m: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype == bool:
        if arr.shape != (m,):
            raise ValueError(f"failure_free as a mask must have shape ({m},), got {arr.shape}")
        selected = np.flatnonzero(arr)
    else:
        idx = as_index_array(arr, "failure_free")
        if idx.size and (idx.min() < 0 or idx.max() >= m):
            raise ValueError(f"failure_free has indices outside [0, {m})")
        selected = np.unique(idx)
        if selected.size != idx.size:
            raise ValueError(
                "failure_free has repeated indices; a 0/1 vector is read as indices: pass a boolean mask "
                "(a logical vector in R) or the indices of the failure-free estimates"
            )
    if selected.size == 0:
        raise ValueError("failure_free selects no estimate")
    return selected


def _check_fraction(value: Any, name: str) -> float:
    return check_real(value, name, minimum=0.0, maximum=1.0, strict_minimum=True, strict_maximum=True)


class TRIM(AggregationRule):
    """Trimmed :math:`K`-barycentres of all atoms (del Barrio et al. 2019; [J] App. A.3).

    Trims a fraction ``eta`` of the mass of the atoms that are worst fitted by :math:`K` KL
    barycentres (:func:`~mixagg.reduction.trimmed_reduction`). It ignores machine structure and
    weights, so it cannot see weight failures ([J] §5.1.4); it tolerates location failures of
    less than ``eta`` of the mass. ``selected`` lists the machines with some kept mass,
    ``excluded`` those trimmed entirely; per-component kept mass is in ``result.reduction.kept_mass``.

    Parameters
    ----------
    eta : float in (0, 1), default 0.5
        Trimmed fraction of the mass ([J] §5.1.2).
    """

    name = "trim"
    options = (
        Option(
            "eta", 0.5, check=_check_fraction, command_line=float, help="TRIM's trimmed fraction of the mass, in (0, 1)"
        ),
        Option(
            "restarts",
            "auto",
            check=_choice("auto", "none"),
            command_line=str,
            help="TRIM starts: every estimate (auto) or the first one only (none)",
        ),
        TOL,
        MAX_ITER,
    )
    benchmark = (("TRIM", {}),)

    def run(self, estimates: Estimates, *, eta: float, restarts: str, tol: float, max_iter: int) -> AggregationResult:
        k = estimates.n_components
        of_order = [g for g in estimates.mixtures if g.n_components == k]
        init = of_order[0] if restarts == "none" and of_order else None
        if not of_order:  # a given order no estimate has: the heaviest atoms start it
            init, restarts = heaviest_atoms(list(estimates.mixtures), estimates.lambdas, k), "none"
        reduction = trimmed_reduction(
            list(estimates.mixtures),
            k,
            eta=eta,
            sample_sizes=estimates.lambdas,
            init=init,
            restarts=restarts,
            tol=tol,
            max_iter=max_iter,
        )
        selected = np.flatnonzero(reduction.kept_mass.sum(axis=1) > 0)
        return finish(self.name, estimates, selected, Log(), reduction=reduction)


# ---------------------------------------------------------------------------- registered, and callable by name

#: The rules in the order of ``mixagg demo``'s table.
vanilla = Vanilla()
coat = COAT()
cred = CRED()
ared = ARED()
dfmr = DFMR()
sfmr = SFMR()
trim = TRIM()
oracle = Oracle()
for _rule in (vanilla, coat, cred, ared, dfmr, sfmr, trim, oracle):
    register_method(_rule)
del _rule
