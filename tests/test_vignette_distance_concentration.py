"""``vignettes/distance_concentration.py``: [J] §5.2 / Fig. 7, distances to the COAT and their predicted law,
quick scale."""

from __future__ import annotations

from vignette_runner import run_vignette


def test_distance_concentration(tmp_path):
    data = run_vignette("distance_concentration", tmp_path)
    settings = [k for k in data if k.startswith("K") and isinstance(data[k], dict) and "ks_truth" in data[k]]
    assert settings  # quick runs (K, d) = (5, 2)
    for key in settings:
        x = data[key]
        # (a) [J] Lemma 4.2: n D^2(G_i, G*) of R*m independent honest fits against sum lambda_j chi2_1.
        # Kolmogorov's 95% noise level 1.36/sqrt(n_eff) must be well below 0.1 for the claim to be about the law
        # (n_eff = 400 in quick: 0.068; the KS median under a correct law is 0.83/sqrt(400) = 0.042).
        assert x["ks_truth_noise95"] < 0.075
        assert x["ks_truth"] < 0.1
        # (c) honest distances to the COAT against the COAT-conditional law (parametric bootstrap of the COAT step):
        # within the simulated 99% KS null quantile of R pooled replicates (the values share the COAT, so
        # Kolmogorov's level does not apply; the null is simulated in the vignette).
        assert x["ks_coat"] <= x["ks_coat_null99"]
        # ... while the pairwise law sum 2 lambda_j chi2_1 is the wrong law for them: the COAT is the most central
        # honest estimate, so its distances sit left of the pairwise law (docs/theory.md, "Distances to the COAT"),
        # far beyond the noise.
        assert x["median_coat_observed"] < 0.8 * x["median_pairwise_law"]
        assert x["ks_coat_vs_pairwise"] > 2 * x["ks_coat_null99"]
        f = x["failures"]
        # the gap ([J] Fig. 7): under mean and covariance failure every failed machine is farther from the COAT
        # than every honest one, in every replicate
        assert f["mean"]["separated_all"] and f["covariance"]["separated_all"]
        assert min(f["mean"]["gap_ratio"]) > 1 and min(f["covariance"]["gap_ratio"]) > 1
        # weight failure keeps the honest components: the failed and honest ranges overlap in every replicate
        assert f["weight"]["overlap_all"]
        assert max(f["weight"]["gap_ratio"]) < 1
