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
    registry,
    resolve_family,
)


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

    register_family(Rate2)
    assert isinstance(get_family("RATE2"), Rate2)
    with pytest.raises(ValueError, match="already registered"):
        register_family("rate2", lambda: Exponential())
    with pytest.deprecated_call(match="which the registry would not find"):
        register_family("rate2", Exponential, overwrite=True)
    assert type(get_family("rate2")) is Exponential

    @register_family
    class Rate3(Exponential):
        name = "rate3"

    assert isinstance(get_family("rate3"), Rate3)

    @register_family(overwrite=True)
    class Rate3Again(Exponential):
        name = "Rate3"

    assert isinstance(get_family("rate3"), Rate3Again)
    assert get_family(Rate3Again().to_dict()["name"]) == Rate3Again()


def test_a_name_with_a_class_is_deprecated_but_works(clean_registry):
    class Rate4(Exponential):
        name = "rate4"

    with pytest.deprecated_call(match="the name repeats the class attribute name"):
        register_family("rate4", Rate4)
    with pytest.deprecated_call(match="register_family\\(Rate4\\)"):
        register_family("rate4")(Rate4)
    assert isinstance(get_family("rate4"), Rate4)
    register_family("rate4-factory", lambda: Rate4())  # a plain factory function still needs its name
    assert isinstance(get_family("rate4-factory"), Rate4)


def test_register_family_needs_a_name_for_functions_and_classes(clean_registry):
    with pytest.raises(TypeError, match="a factory function needs a name"):
        register_family(lambda: Exponential())

    class Nameless(Exponential):
        name = ""

    with pytest.raises(ValueError, match="has no registry name"):
        register_family(Nameless)
    with pytest.raises(TypeError, match="takes no factory"):
        register_family(Exponential, Exponential)


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
