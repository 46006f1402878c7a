"""The public MixSim functions, ``mixsim`` and ``overlap``, and the choice between the R and the native back-end.

Arguments are validated here, once, so both back-ends refuse the same inputs with the same
errors; MixSim's own failure conventions (``NULL``, R errors, pitfalls 4-8 of docs/mixsim.md)
become :class:`~mixagg.exceptions.MixSimError` or a ``ValueError`` naming the argument.
"""

from __future__ import annotations

import functools
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import as_float_array, as_generator, check_int
from ..exceptions import MixSimError, RUnavailableError
from ..families import Gaussian
from ..mixture import MixingDistribution, as_mixture
from . import r_backend
from .native_mixsim import GenerationSettings, generate
from .native_overlap import OverlapResult, PairQuantities, overlap_from_pairs, pair_quantities

__all__ = ["MixSimResult", "mixsim", "overlap"]

BACKENDS = ("auto", "python", "r")
#: Generalized eigenvalues this close to 1 in a heterogeneous pair make MixSim::overlap hang (docs/mixsim.md pitfall 6).
R_UNIT_EIGENVALUE_HAZARD = 1e-8
#: Largest seed R's set.seed takes (a 32-bit signed integer).
R_SEED_MAX = 2**31 - 1


@dataclass(frozen=True, eq=False)
class MixSimResult:
    """A simulated Gaussian mixture with its exact overlaps (the value of MixSim's ``MixSim()``, docs/mixsim.md).

    Attributes
    ----------
    mixture : MixingDistribution
        The Gaussian mixture: ``mixture.weights`` (Pi), ``mixture.params["mean"]`` (Mu, (K, p)),
        ``mixture.params["cov"]`` (S as (K, p, p)).
    omega_map : ndarray of shape (K, K)
        ``omega_map[i, j]`` :math:`=o_{j|i}`, the probability that a point of component ``i`` is
        assigned to ``j`` when only ``i`` and ``j`` compete (MixSim's orientation); diagonal 1.
    bar_omega, max_omega : float
        Achieved average and maximum pairwise overlap :math:`w_{ij}=o_{j|i}+o_{i|j}`.
    rc_max : tuple of int
        The 0-based pair attaining ``max_omega`` (R's ``rcMax`` minus 1).
    backend : str
        ``"python"`` or ``"r"``: the back-end that produced it.
    attempts : int or None
        Number of parameter draws the native back-end used (MixSim does not report it: ``None``).
    """

    mixture: MixingDistribution
    omega_map: np.ndarray
    bar_omega: float
    max_omega: float
    rc_max: tuple[int, int]
    backend: str
    attempts: int | None = None

    @property
    def weights(self) -> np.ndarray:
        """Mixing proportions (MixSim's ``Pi``)."""
        return np.array(self.mixture.weights)

    @property
    def means(self) -> np.ndarray:
        """Component means as a K x p matrix (MixSim's ``Mu``)."""
        return np.array(self.mixture.params["mean"])

    @property
    def covariances(self) -> list[np.ndarray]:
        """Component covariances as a list of K p x p matrices (2-D only, so R sees a list of matrices)."""
        return [np.array(c) for c in self.mixture.params["cov"]]

    def to_dict(self) -> dict[str, Any]:
        """Plain Python types (a named list in R): weights, means (rows), covariances (list of row lists), overlaps."""
        return {
            "weights": self.weights.tolist(),
            "means": self.means.tolist(),
            "covariances": [c.tolist() for c in self.covariances],
            "omega_map": self.omega_map.tolist(),
            "bar_omega": self.bar_omega,
            "max_omega": self.max_omega,
            "rc_max": list(self.rc_max),
            "backend": self.backend,
            "attempts": self.attempts,
        }

    def __repr__(self) -> str:
        k, p = self.mixture.n_components, self.mixture.family.d
        return (
            f"MixSimResult(K={k}, p={p}, bar_omega={self.bar_omega:.6g}, max_omega={self.max_omega:.6g}, "
            f"rc_max={self.rc_max}, backend={self.backend!r})"
        )


@functools.lru_cache(maxsize=1)
def _r_status() -> r_backend.RStatus:
    return r_backend.r_status()


def _resolve_backend(backend: Any) -> str:
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "r":
        status = _r_status()
        if not status.available:
            raise RUnavailableError(f'backend="r" needs rpy2, R and the R package MixSim; {status.problem}')
        return "r"
    if backend == "auto":
        return "r" if _r_status().available else "python"
    return "python"


def _check_target(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{name} must be None or a number, got {type(value).__name__}")
    value = float(value)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must lie in (0, 1), got {value!r}")
    return value


def _check_bool(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__}")
    return bool(value)


def _check_real(value: Any, name: str, low: float, high: float, *, include_high: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    ok = low < value <= high if include_high else low < value < high
    if not ok:
        raise ValueError(f"{name} must lie in ({low:g}, {high:g}{']' if include_high else ')'}, got {value!r}")
    return value


def _check_accuracy(eps: Any, lim: Any) -> tuple[float, int]:
    return _check_real(eps, "eps", 0.0, 0.1), check_int(lim, "lim", minimum=1, maximum=R_SEED_MAX)


def mixsim(
    K: int,
    p: int,
    *,
    max_omega: float | None = None,
    bar_omega: float | None = None,
    sph: bool = False,
    hom: bool = False,
    ecc: float = 0.9,
    pi_low: float = 1.0,
    int: Any = (0.0, 1.0),  # noqa: A002 - MixSim's argument name
    resN: int = 100,  # noqa: N803 - MixSim's argument name
    eps: float = 1e-6,
    lim: int = 1_000_000,
    seed: Any = None,
    backend: str = "auto",
) -> MixSimResult:
    """Simulate a Gaussian mixture with a prescribed maximum and/or average pairwise overlap (MixSim, docs/mixsim.md).

    Parameters
    ----------
    K, p : int
        Number of components (>= 2) and dimension (>= 1). Integral doubles such as ``5.0`` are accepted.
    max_omega, bar_omega : float or None
        Target maximum / average pairwise overlap :math:`w_{ij}=o_{j|i}+o_{i|j}`, in (0, 1); at least one.
        Both: :math:`\\bar\\omega\\le\\check\\omega\\le\\bar\\omega K(K-1)/2` (MixSim's admissibility).
    sph : bool
        Spherical covariances :math:`r_kI_p` instead of general ones.
    hom : bool
        One covariance shared by all components (not allowed with both targets, as in MixSim).
    ecc : float
        Largest eccentricity :math:`\\sqrt{1-\\ell_{\\min}/\\ell_{\\max}}` of a general covariance, in (0, 1].
    pi_low : float
        Smallest mixing proportion, in (0, 1]; 1 gives equal proportions 1/K.
    int : pair of float
        The means are uniform on ``[int[0], int[1]]^p``.
    resN : int
        Maximum number of parameter draws.
    eps : float
        Tolerance on the achieved target (and, in R, the accuracy of each overlap), in (0, 0.1].
    lim : int
        Term limit of R's Davies routine; the native evaluator has no such limit (it is accurate to about 1e-10).
    seed : None, int or numpy.random.Generator
        R: ``set.seed(seed)`` before the call (reproduces MixSim bit for bit). Python: the
        generator's seed (the draws differ from R's; the overlap statistics agree).
    backend : {"auto", "python", "r"}
        ``"auto"``: R's MixSim when rpy2 imports and MixSim loads (and ``seed`` is not a
        Generator), else the native implementation. ``result.backend`` says which ran.

    Returns
    -------
    MixSimResult

    Raises
    ------
    MixSimError
        The target was not reached in ``resN`` attempts (MixSim returns ``NULL``), or R's MixSim failed.
    RUnavailableError
        ``backend="r"`` without rpy2, R or MixSim (the message says how to install each).
    ValueError, TypeError
        Invalid arguments, both targets with ``hom=True``, or inadmissible targets.

    Examples
    --------
    >>> import mixagg as ma
    >>> sim = ma.mixsim(3, 2, max_omega=0.05, seed=1, backend="python")
    >>> abs(sim.max_omega - 0.05) <= 1e-6
    True
    >>> sim.mixture.params["cov"].shape
    (3, 2, 2)
    """
    k = check_int(K, "K", minimum=2)
    dim = check_int(p, "p", minimum=1)
    top, bar = _check_target(max_omega, "max_omega"), _check_target(bar_omega, "bar_omega")
    sph, hom = _check_bool(sph, "sph"), _check_bool(hom, "hom")
    ecc = _check_real(ecc, "ecc", 0.0, 1.0)
    pi_low = _check_real(pi_low, "pi_low", 0.0, 1.0)
    box = as_float_array(int, "int")
    if box.shape != (2,) or not box[0] < box[1]:
        raise ValueError(f"int must be two numbers (lower, upper) with lower < upper, got {box.tolist()}")
    res_n = check_int(resN, "resN", minimum=1)
    eps, lim = _check_accuracy(eps, lim)
    if top is None and bar is None:
        raise ValueError("at least one of max_omega and bar_omega must be given")
    if top is not None and bar is not None:
        if hom:
            raise ValueError("hom=True cannot be combined with both max_omega and bar_omega (MixSim refuses it too)")
        if not bar <= top <= bar * k * (k - 1) / 2:
            raise ValueError(
                f"max_omega={top!r} and bar_omega={bar!r} are inadmissible for K={k}: "
                f"need bar_omega <= max_omega <= bar_omega * K(K-1)/2 = {bar * k * (k - 1) / 2:g}"
            )
    chosen = _resolve_backend(backend)
    if chosen == "r" and isinstance(seed, (np.random.Generator, np.random.SeedSequence)):
        if backend == "r":
            raise TypeError("seed must be None or an integer for backend='r' (R's set.seed), got a numpy generator")
        chosen = "python"
    if chosen == "r":
        r_seed = None if seed is None else check_int(seed, "seed", minimum=-R_SEED_MAX, maximum=R_SEED_MAX)
        arguments = {
            "BarOmega": bar, "MaxOmega": top, "K": k, "p": dim, "sph": sph, "hom": hom, "ecc": ecc,
            "PiLow": pi_low, "int": box, "resN": res_n, "eps": eps, "lim": lim,
        }  # fmt: skip
        weights, means, covs, result = r_backend.call_mixsim(arguments, r_seed)
        attempts = None
    else:
        settings = GenerationSettings(
            k, dim, bar, top, sph, hom, ecc, pi_low, (float(box[0]), float(box[1])), res_n, eps
        )
        generated = generate(settings, as_generator(seed, "seed"))
        if generated is None:
            raise MixSimError(
                f"the desired overlap was not reached in resN={res_n} attempts; increase resN or change the target "
                "(a draw fails when its largest reachable overlap, often well below 1 with heterogeneous covariances, "
                "is under the target, or when the target needs covariances scaled by more than 256, MixSim's limit)"
            )
        weights, means, covs, result, attempts = (
            generated.weights,
            generated.means,
            generated.covs,
            generated.overlap,
            generated.attempt,
        )
    mixture = MixingDistribution(Gaussian(dim), weights, {"mean": means, "cov": covs})
    return MixSimResult(mixture, result.omega_map, result.bar_omega, result.max_omega, result.rc_max, chosen, attempts)


def _gaussian_parts(mixture: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if isinstance(mixture, MixSimResult):
        mixture = mixture.mixture
    mix = as_mixture(mixture, "mixture")
    if not isinstance(mix.family, Gaussian):
        raise TypeError(f"mixture must be a Gaussian mixture, got the {mix.family.name} family")
    weights = np.array(mix.weights)
    if weights.size < 2:
        raise ValueError("mixture must have at least 2 components to have overlaps")
    if np.any(weights <= 0):
        raise ValueError(
            f"mixture weights must all be positive for overlaps (o_j|i depends on log(pi_j/pi_i)); "
            f"got {weights.tolist()}"
        )
    return weights, np.array(mix.params["mean"]), np.array(mix.family.cov(dict(mix.params)))  # any structure


def r_overlap_hazard(pairs: PairQuantities, covs: np.ndarray) -> str | None:
    """Why ``MixSim::overlap`` would hang or be wrong on this mixture (docs/mixsim.md, pitfalls 5-7), or ``None``.

    MixSim takes its equal-covariance formula for every pair when the sorted generalized
    eigenvalues of pairs (1, 2) and (2, 1) agree bit for bit, which is safe only when all
    covariances are identical. Otherwise it completes the square for every pair, which hangs or
    fails on an eigenvalue (near) 1, and is wrong for all pairs if pair (1, 2) looks homogeneous.
    """
    if np.all(covs == covs[0]):
        return None
    lam = pairs.eigenvalues
    off = ~np.eye(lam.shape[0], dtype=bool)
    first, second = np.sort(lam[0, 1]), np.sort(lam[1, 0])
    if np.allclose(first, second, rtol=1e-12, atol=0.0):
        return (
            "components 1 and 2 have reciprocal-symmetric (or equal) covariance spectra while other pairs differ: "
            "MixSim would wrongly treat the whole mixture as homogeneous (docs/mixsim.md, pitfall 5)"
        )
    if np.any(np.abs(lam[off] - 1.0) <= R_UNIT_EIGENVALUE_HAZARD):
        return (
            "a pair of components has a generalized eigenvalue equal to 1 in some direction (or equal covariances "
            "outside pair (1, 2)): MixSim::overlap hangs or fails there (docs/mixsim.md, pitfalls 6-7)"
        )
    return None


def overlap(mixture: Any, *, eps: float = 1e-6, lim: int = 1_000_000, backend: str = "auto") -> OverlapResult:
    """Exact pairwise misclassification probabilities of a Gaussian mixture (MixSim's ``overlap``; docs/mixsim.md).

    Parameters
    ----------
    mixture : MixingDistribution or MixSimResult
        A Gaussian mixture with at least two components and positive weights.
    eps, lim : float, int
        Accuracy and term limit of R's Davies routine. The native evaluator always works to
        about 1e-10 absolute (its splits of unit eigenvalues and homogeneous pairs are exact).
    backend : {"auto", "python", "r"}
        ``"auto"`` uses R's MixSim when available, except on mixtures where MixSim hangs or is
        wrong (docs/mixsim.md, pitfalls 5-7), which go to the native evaluator; ``"r"`` refuses those with a ValueError.

    Returns
    -------
    OverlapResult
        ``omega_map[i, j]`` :math:`=o_{j|i}` (row: the component the point comes from; diagonal 1),
        ``bar_omega``, ``max_omega``, the 0-based ``rc_max`` and the ``backend`` used.

    Examples
    --------
    >>> import mixagg as ma
    >>> G = ma.MixingDistribution("gaussian", [0.5, 0.5], {"mean": [[0.0], [2.0]], "cov": [[[1.0]], [[1.0]]]})
    >>> res = ma.r_bridge.overlap(G, backend="python")
    >>> round(res.max_omega, 6)   # 2 * Phi(-1): two unit-variance normals two apart
    0.317311
    """
    weights, means, covs = _gaussian_parts(mixture)
    eps, lim = _check_accuracy(eps, lim)
    chosen = _resolve_backend(backend)
    pairs = pair_quantities(weights, means, covs)
    if chosen == "r":
        hazard = r_overlap_hazard(pairs, covs)
        if hazard is None:
            return r_backend.call_overlap(weights, means, covs, eps, lim).with_backend("r")
        if backend == "r":
            raise ValueError(f"backend='r' refused: {hazard}; use backend='python' (exact on such mixtures)")
    return overlap_from_pairs(pairs).with_backend("python")
