"""The ``mixagg`` command line. ``mixagg demo`` runs the package end to end on embedded defaults."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import numpy as np

from . import __version__
from .distances import l2_distance_matrix
from . import attacks
from .em import fit_mixture
from .metrics import detection_rates, w1
from .robust import aggregate
from .families import Gamma, Gaussian, Poisson
from .mixture import MixingDistribution

__all__ = ["main"]


def _print_matrix(names: Sequence[str], mat: np.ndarray, fmt: str = "{:10.5f}") -> None:
    width = max(len(n) for n in names)
    print(" " * (width + 2) + "".join(f"{n:>10}" for n in names))
    for name, row in zip(names, mat):
        print(f"  {name:<{width}}" + "".join(fmt.format(v) for v in row))


def demo(seed: int = 2026) -> int:
    """Build Gaussian, Gamma and Poisson mixtures, print their L2 distances and KL divergences."""
    rng = np.random.default_rng(seed)
    print(f"mixagg {__version__} demo (seed {seed})\n")

    gauss = Gaussian(d=2)
    truth = MixingDistribution(
        gauss,
        [0.3, 0.45, 0.25],
        {
            "mean": [[0.0, 0.0], [4.0, 1.0], [1.0, 5.0]],
            "cov": [[[1.0, 0.3], [0.3, 1.0]], [[2.0, -0.5], [-0.5, 1.0]], [[0.5, 0.0], [0.0, 1.5]]],
        },
    )
    honest = [fit_mixture(truth.sample(5000, rng), gauss, 3, n_init=3, rng=rng) for _ in range(3)]
    byzantine = MixingDistribution(gauss, truth.weights, {"mean": truth.params["mean"] + 8.0, "cov": truth.params["cov"]})
    names = ["truth", "honest1", "honest2", "honest3", "byzantine"]
    print("1. Gaussian mixtures, d = 2, K = 3: L2 distances between mixture densities")
    print("   (honest = penalised-EM fits to 5000 draws each; byzantine = means shifted by 8)")
    fit = honest[0]
    print(
        f"   first honest fit: EM converged={fit.converged} after {fit.n_iter} iterations, log-likelihood {fit.loglik:.1f}, "
        f"{fit.diagnostics.penalty}"
    )
    _print_matrix(names, l2_distance_matrix([truth, *honest, byzantine]))

    comps = gauss.expand(dict(truth.params), 1), gauss.expand(dict(truth.params), 0)
    print("\n   KL(component i || component j) of the truth (the mixture-reduction cost):")
    _print_matrix([f"k{k}" for k in range(3)], gauss.kl_divergence(*comps), "{:10.3f}")

    gamma = Gamma()
    g_truth = MixingDistribution(gamma, [0.32, 0.35, 0.33], {"shape": [1.0, 8.0, 30.0], "scale": [1.0, 6.0, 10.0]})
    g_est = [fit_mixture(g_truth.sample(2**15, rng), gamma, 3, init=g_truth) for _ in range(2)]
    print("\n2. The Gamma mixture of [J] Appendix D and two penalised-EM fits to 2^15 draws (EM started at the")
    print("   truth, as in the paper's simulations): L2 distances")
    _print_matrix(["truth", "est1", "est2"], l2_distance_matrix([g_truth, *g_est]), "{:10.6f}")

    pois = Poisson()
    p_mix = [
        MixingDistribution(pois, [0.5, 0.5], {"rate": [2.0, 9.0]}),
        MixingDistribution(pois, [0.6, 0.4], {"rate": [2.2, 8.5]}),
        MixingDistribution(pois, [1.0], {"rate": [5.0]}),
    ]
    print("\n3. Poisson mixtures (K = 2, 2, 1): l2 distances between probability mass functions")
    _print_matrix(["2+9", "2.2+8.5", "5"], l2_distance_matrix(p_mix))

    print("\n5. Byzantine-tolerant aggregation: 30 machines fit the Gaussian mixture of (1) on 2000 draws each;")
    print("   30% of them send mean failures ([J] §5.1.1). W1 to the truth (smaller is better):")
    local = [fit_mixture(truth.sample(2000, rng), gauss, 3, init=truth) for _ in range(30)]
    sent, failed = attacks.mean_failure(local, alpha=0.3, rng=rng)
    rows = [
        ("oracle (knows the failures)", aggregate(sent, "oracle", failure_free=~failed)),
        ("DFMR (rho = 1.3)", aggregate(sent, "dfmr", rho=1.3)),
        ("COAT", aggregate(sent, "coat")),
        ("TRIM (eta = 0.5)", aggregate(sent, "trim")),
        ("vanilla MR (no filter)", aggregate(sent, "vanilla")),
    ]
    for name, res in rows:
        print(f"   {name:<30} W1 = {w1(res.mixture, truth):10.4f}   machines used: {len(res.selected)}")
    ared = aggregate(sent, "ared")
    rates = detection_rates(ared.detected, failed)
    print(f"   ARED flags {len(ared.detected)} machines: precision {rates['precision']:.2f}, recall {rates['recall']:.2f}")

    d10 = Gaussian(d=10)
    many = [MixingDistribution(d10, rng.dirichlet(np.ones(5)), d10.random_params(5, rng)) for _ in range(100)]
    l2_distance_matrix(many[:2])  # compile / load the kernel once
    start = time.perf_counter()
    big = l2_distance_matrix(many)
    elapsed = time.perf_counter() - start
    print(
        f"\n6. All pairwise L2 distances of m = 100 Gaussian mixtures (K = 5, d = 10): {elapsed * 1e3:.1f} ms "
        f"for {100 * 99 // 2} pairs; median distance {np.median(big[np.triu_indices(100, 1)]):.4g}"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mixagg`` console script."""
    parser = argparse.ArgumentParser(prog="mixagg", description=__doc__)
    parser.add_argument("--version", action="version", version=f"mixagg {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser("demo", help="run the package end to end on embedded defaults")
    p_demo.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo(seed=args.seed)
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover - argparse enforces choices
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
