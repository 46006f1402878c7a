"""R <-> numpy layouts: against the reference files' R vectors, and round trips through base R with rpy2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mixagg.r_bridge.convert import covariances_from_r, covariances_to_r, index_from_r, matrix_from_r, matrix_to_r

REFERENCE = Path(__file__).with_name("mixsim_reference")


def r_layout_blocks():
    for path in sorted(REFERENCE.glob("*.json")):
        if path.name == "index.json":
            continue
        case = json.loads(path.read_text())
        block = case.get("input") or case.get("result")
        if block and "S_R_vector" in block:
            yield pytest.param(block, id=path.stem)


@pytest.mark.parametrize("block", list(r_layout_blocks()))
def test_covariance_arrays_match_rs_column_major_vectors(block):
    """``as.vector(S)`` and ``dim(S)`` of the real R arrays give back ``S[k][a][b] == S_R[a, b, k]`` bit for bit."""
    cov = np.array(block["S"], float)
    got = covariances_from_r(block["S_R_vector"], block["S_R_dim"])
    np.testing.assert_array_equal(got, cov)
    values, dim = covariances_to_r(cov)
    assert dim == tuple(block["S_R_dim"])
    np.testing.assert_array_equal(values, np.array(block["S_R_vector"], float))


def test_matrices_keep_their_orientation_and_indices_shift():
    omega = np.array([[1.0, 0.9775, 0.2], [0.00043, 1.0, 0.1], [0.3, 0.05, 1.0]])  # asymmetric, as OmegaMap
    values, dim = matrix_to_r(omega)
    np.testing.assert_array_equal(values[:3], omega[:, 0])  # R fills columns first
    np.testing.assert_array_equal(matrix_from_r(values, dim), omega)
    assert not np.array_equal(np.reshape(values, dim), omega)  # a C-order reshape transposes it (pitfall 2)
    assert index_from_r([1.0, 3.0]) == (0, 2)
    with pytest.raises(ValueError, match="1-based"):
        index_from_r([0, 2])
    with pytest.raises(ValueError, match="1-based"):
        index_from_r([1.5])
    with pytest.raises(ValueError, match="dim"):
        covariances_from_r(np.zeros(8), (2, 3, 1))
    with pytest.raises(ValueError, match="values"):
        matrix_from_r(np.zeros(5), (2, 3))
    with pytest.raises(ValueError, match="dim"):
        matrix_from_r(np.zeros(6), (2.5, 3))


@pytest.mark.r
def test_round_trips_through_base_r(robjects, rng):
    """Arrays built in R from our vectors have R's element [a, b, k] equal to ours [k, a, b], and come back exactly."""
    ro = robjects
    k, p = 4, 3
    cov = rng.standard_normal((k, p, p))  # not symmetric: a transposition would show
    values, dim = covariances_to_r(cov)
    ro.globalenv["S"] = ro.r.array(ro.FloatVector(values), dim=ro.IntVector(dim))
    for kk, a, b in [(0, 0, 1), (3, 2, 0), (1, 1, 2)]:
        assert ro.r(f"S[{a + 1}, {b + 1}, {kk + 1}]")[0] == cov[kk, a, b]
    back = covariances_from_r(np.array(ro.r("as.vector(S)")), np.array(ro.r("dim(S)")))
    np.testing.assert_array_equal(back, cov)
    mat = rng.standard_normal((k, p))
    mvalues, mdim = matrix_to_r(mat)
    ro.globalenv["M"] = ro.r.matrix(ro.FloatVector(mvalues), nrow=mdim[0], ncol=mdim[1])
    assert ro.r("M[4, 2]")[0] == mat[3, 1]
    np.testing.assert_array_equal(matrix_from_r(np.array(ro.r("as.vector(M)")), np.array(ro.r("dim(M)"))), mat)
    assert index_from_r(np.array(ro.r("which(M == max(M), arr.ind = TRUE)")).reshape(-1)) == tuple(
        int(v) for v in np.unravel_index(np.argmax(mat), mat.shape)
    )
