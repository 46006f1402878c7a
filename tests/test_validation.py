"""The argument-checking vocabulary shared by the entry points: types are TypeErrors, values ValueErrors,
names named."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mixagg._validation import check_choice, check_real


@pytest.mark.parametrize("value", [2, 2.5, np.float32(3.0), np.int64(4), np.array(5.0), math.inf])
def test_check_real_accepts_real_numbers(value):
    got = check_real(value, "x", minimum=1.0, finite=False)
    assert isinstance(got, float) and got == float(value)


@pytest.mark.parametrize(
    "value, kwargs, message",
    [
        (0.5, {"minimum": 1.0}, r"rho must be a finite number >= 1, got 0.5"),
        (1.0, {"minimum": 1.0, "strict_minimum": True}, r"rho must be a finite number > 1, got 1.0"),
        (math.nan, {}, r"rho must be a finite number, got nan"),
        (math.inf, {}, r"rho must be a finite number, got inf"),
        (math.nan, {"finite": False}, r"rho must be a number, got nan"),
        (
            1.0,
            {"minimum": 0, "maximum": 1, "strict_minimum": True, "strict_maximum": True},
            r"rho must lie in \(0, 1\)",
        ),
        (-1e-300, {"minimum": 0, "maximum": 1}, r"rho must lie in \[0, 1\]"),
        (0.5, {"minimum": 1.0, "hint": " (the COAT radius itself)"}, r">= 1 \(the COAT radius itself\), got 0.5"),
    ],
)
def test_check_real_refuses_values_out_of_range(value, kwargs, message):
    with pytest.raises(ValueError, match=message):
        check_real(value, "rho", **kwargs)


@pytest.mark.parametrize("value", ["1.3", True, None, [1.0], np.ones(2)])
def test_check_real_refuses_non_numbers(value):
    with pytest.raises(TypeError, match="rho must be a real number"):
        check_real(value, "rho")


def test_check_choice():
    assert check_choice("DFMR", "method", ["dfmr", "coat"]) == "dfmr"
    with pytest.raises(ValueError, match=r"radius must be one of \['majority', 'half'\], got 'Half'"):
        check_choice("Half", "radius", ["majority", "half"], case=True)
    with pytest.raises(TypeError, match="radius must be one of"):
        check_choice(2, "radius", ["majority", "half"])
