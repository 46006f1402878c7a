"""``vignettes/quickstart.py``: the whole pipeline, quick scale."""

from __future__ import annotations

from vignette_runner import run_vignette


def test_quickstart(tmp_path):
    data = run_vignette("quickstart", tmp_path)
    w1 = data["w1"]
    # under mean failure DFMR(1.3) is within 10% of the oracle's W1 and vanilla at least 3x worse ([J] Fig. 2-3)
    assert w1["DFMR(1.3)"] <= 1.1 * w1["oracle"]
    assert w1["vanilla"] >= 3 * w1["oracle"]
    assert data["failed_kept"] == {"vanilla": 4, "DFMR(1.3)": 0, "oracle": 0}
