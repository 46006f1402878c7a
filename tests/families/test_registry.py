"""get_family / register_family / resolve_family."""

from __future__ import annotations

import pytest

from mixagg.families import (
    Exponential,
    Gaussian,
    Poisson,
    available_families,
    get_family,
    register_family,
    resolve_family,
)
from mixagg.families import registry


@pytest.fixture
def clean_registry():
    saved = dict(registry._REGISTRY)
    yield
    registry._REGISTRY.clear()
    registry._REGISTRY.update(saved)


def test_builtin_names():
    assert {"gaussian", "gamma", "poisson", "exponential"} <= set(available_families())
    assert get_family("gaussian", d=10) == Gaussian(10)
    assert get_family("  Poisson ") == Poisson()
    assert get_family("gaussian", d=3.0) == Gaussian(3)


def test_instance_passthrough_and_conflicts():
    fam = Gaussian(2)
    assert get_family(fam) is fam
    assert get_family(fam, d=2) is fam
    with pytest.raises(TypeError, match="conflict"):
        get_family(fam, d=3)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="unknown family 'weibull'.*registered families: .*gaussian"):
        get_family("weibull")
    with pytest.raises(TypeError, match=r"settings do not match Gaussian.*missing a required argument: 'd'"):
        get_family("gaussian")
    with pytest.raises(TypeError, match="settings do not match"):
        get_family("poisson", d=3)
    with pytest.raises(TypeError, match="must be a str"):
        get_family(3)


def test_register_family_function_and_decorator(clean_registry):
    class Rate2(Exponential):
        name = "rate2"

    register_family("rate2", Rate2)
    assert isinstance(get_family("RATE2"), Rate2)
    with pytest.raises(ValueError, match="already registered"):
        register_family("rate2", lambda: Exponential())
    register_family("rate2", Exponential, overwrite=True)
    assert type(get_family("rate2")) is Exponential

    @register_family("rate3")
    class Rate3(Exponential):
        name = "rate3"

    assert isinstance(get_family("rate3"), Rate3)


def test_register_family_rejects_bad_factories(clean_registry):
    with pytest.raises(TypeError, match="callable"):
        register_family("bad", 42)
    register_family("not-a-family", lambda: "oops")
    with pytest.raises(TypeError, match="not an ExponentialFamily"):
        get_family("not-a-family")


def test_resolve_family_infers_settings_from_params():
    assert resolve_family("gaussian", {"mean": [[0.0, 1.0, 2.0]]}) == Gaussian(3)
    assert resolve_family({"name": "gaussian", "d": 2}) == Gaussian(2)
    assert resolve_family("exponential", {"rate": [1.0]}) == Exponential()
    with pytest.raises(ValueError, match="'name'"):
        resolve_family({"d": 2})
    with pytest.raises(TypeError, match="family must be"):
        resolve_family(3.5)
