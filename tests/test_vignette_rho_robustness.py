"""``vignettes/rho_robustness.py``: DFMR's robustness to rho ([J] §5.1.3, Fig. 2), quick scale
(m = 20, 40; n = 2000)."""

from __future__ import annotations

import numpy as np
from vignette_runner import run_vignette


def test_rho_robustness(tmp_path):
    check(run_vignette("rho_robustness", tmp_path))


def check(data):
    """The claims; also run privately on ``--seed 2`` and ``--seed 3`` to make sure they are no seed accident."""
    rho = np.asarray(data["rho_grid"])
    assert rho[0] == 1.0 and rho[-1] == 3.0 and rho.size == 41
    top = str(max(data["m_values"]))
    band = rho >= 1.3 - 1e-9
    for f in ("mean", "covariance", "weight"):
        for m, reps in data["results"][f].items():
            for r in reps:
                curve, coat = np.asarray(r["dfmr_w1"]), r["coat_w1"]
                honest_kept = np.asarray(r["kept"]) - np.asarray(r["failed_kept"])
                if f != "weight":
                    # [J] §4.3: S_rho holds (nearly) all failure-free estimates for rho >= 1.3; at K=5, d=10 the honest
                    # distance ratios D_ci / r_COAT stay below ~1.15 (329 parameters: the distances concentrate)
                    assert np.all(honest_kept[band] == r["n_honest"]), (f, m)
                # COAT "significantly" worse than DFMR(1.3) ([J] Fig. 2): COAT is one machine's estimate, its error is
                # about sqrt(#kept) = 4-6 times the aggregate's in theory; we see 3.3-5x, so a factor 2 has ample room
                assert coat >= 2 * curve[band][0], (f, m)
                # DFMR(rho) beats the COAT for every rho <= 3, weight failure included ([J] §5.1.3)
                assert np.all(curve < coat), (f, m)
                if f != "weight":
                    # mean-shifted estimates lie ~4 COAT radii away at n = 2000, covariance-corrupted ones (c_d = 1)
                    # 3.1-3.4 radii (seeds 1-2), beyond rho = 3: DFMR(rho) for rho in [1.3, 3] keeps exactly the
                    # honest set and equals the oracle; 10% as in [J] Fig. 2's reading
                    assert np.all(curve[band] <= 1.1 * r["oracle_w1"]), (f, m)
                    assert np.all(np.asarray(r["failed_kept"]) == 0), (f, m)
    for f in ("mean", "covariance"):
        r = data["results"][f][top][0]
        # our extension: DFMR(auto) drops ~1% of the honest machines by design (coverage 0.99) and no failed one
        assert r["auto_failed_kept"] == 0, f
        assert r["auto_w1"] <= 1.1 * r["oracle_w1"], f
        assert 1.0 <= r["auto_rho"] < 1.3, f  # the predicted honest ratios at K=5, d=10 are tight (1.1-1.15 seen)
