"""The run is in the configuration `make test` set up: with the R extra, R is usable and NumPy is 1.x."""

from __future__ import annotations

import importlib.metadata
import os

import numpy as np
import pytest


@pytest.mark.r
def test_the_r_extra_configuration_is_the_one_under_test(robjects, rscript):
    if os.environ.get("MIXAGG_EXPECT_R") != "1":
        pytest.skip("this run did not install the R extra (MIXAGG_EXPECT_R is unset): nothing to check")
    # the `r` extra pins numpy<2 (Debian's reticulate refuses NumPy 2) and rpy2 3.5.x (3.6 does not load R 4.2)
    assert int(np.__version__.split(".")[0]) == 1, f"NumPy {np.__version__} although the R extra pins numpy<2"
    assert importlib.metadata.version("rpy2").startswith("3.5."), importlib.metadata.version("rpy2")
    assert str(robjects.r("R.version$major")[0]) == "4"
    assert robjects.r('isTRUE(requireNamespace("mclust", quietly = TRUE))')[0]
