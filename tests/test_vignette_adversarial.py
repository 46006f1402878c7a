"""``vignettes/adversarial.py``: the worst case over attacks of DFMR(1.3), DFMR(auto) and SFMR, quick scale
(Gaussian K = 3, d = 2, 20 machines of 1,000, alpha in {0, 0.2, 0.3})."""

from __future__ import annotations

from vignette_runner import run_vignette


def test_adversarial(tmp_path):
    check(run_vignette("adversarial", tmp_path))


def check(data):
    """The claims of the vignette's text."""
    worst = {(w["setting"], w["rule"], w["alpha"]): w["ratio"] for w in data["worst"]}
    assert data["alphas"] == [0.0, 0.2, 0.3]
    for s in data["settings"]:
        # without failures the spectral stage changes nothing: SFMR is DFMR(auto), which keeps the honest machines
        assert worst[(s, "SFMR", 0.0)] == worst[(s, "DFMR(auto)", 0.0)]
        assert worst[(s, "DFMR(auto)", 0.0)] <= 1.05
        # the papers' rho = 1.3 drops honest machines in this small model
        assert worst[(s, "DFMR(1.3)", 0.0)] > worst[(s, "DFMR(auto)", 0.0)]
        for a in (0.2, 0.3):  # colluders leaning together lose their weight in SFMR's stage
            assert worst[(s, "SFMR", a)] < worst[(s, "DFMR(auto)", a)]
    attacks = {r["attack"] for r in data["records"]}
    assert {"threshold hugging", "mimic"} <= attacks
