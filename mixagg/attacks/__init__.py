"""Byzantine failures and attacks on the local estimates, for experiments and tests.

Every attack chooses :math:`\\lfloor\\alpha m\\rfloor` failed machines uniformly without
replacement (deterministically given ``rng``), leaves its input untouched and returns
``(corrupted, failed_mask)``; every corrupted estimate is a valid parameter of the family, so
validation cannot catch it. The modules:

:mod:`~mixagg.attacks.gross`
    the papers' gross failures (mean, covariance, weight, shape, scale, rate, component), which
    ignore the honest estimates and the rule ([J] §5.1.1, App. D.1; [A] §5.1;
    ``docs/aggregation.md``, "Byzantine failure models");
:mod:`~mixagg.attacks.adaptive`
    attacks by adversaries who see the honest estimates and, for some, know the rule: ALIE,
    inner-product manipulation, min-max and min-sum, threshold hugging, tiny components,
    sample-size claims, COAT capture, mimic;
:mod:`~mixagg.attacks.poisoning`
    data-level contamination before the honest EM;
``_aligned``
    their common machinery: :class:`AlignedSpace`, :func:`passes_filter`.

:data:`ATTACKS` lists them all with their knowledge model (``docs/attacks.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ._aligned import SEARCH_LIMIT, AlignedSpace, AttackWarning, cross_distances, passes_filter
from .adaptive import (
    alie,
    alie_z_max,
    coat_capture,
    inner_product_manipulation,
    mimic,
    min_max,
    min_sum,
    sample_size_claims,
    threshold_hugging,
    tiny_component,
)
from .gross import (
    block_failure,
    component_failure,
    covariance_failure,
    mean_failure,
    probability_failure,
    rate_failure,
    scale_failure,
    shape_failure,
    weight_failure,
)
from .poisoning import data_poisoning

__all__ = [
    "ADAPTIVE_ATTACKS",
    "ATTACKS",
    "SEARCH_LIMIT",
    "AlignedSpace",
    "AttackInfo",
    "AttackWarning",
    "alie",
    "alie_z_max",
    "available_attacks",
    "coat_capture",
    "component_failure",
    "covariance_failure",
    "cross_distances",
    "data_poisoning",
    "inner_product_manipulation",
    "mean_failure",
    "mimic",
    "min_max",
    "min_sum",
    "passes_filter",
    "probability_failure",
    "block_failure",
    "rate_failure",
    "sample_size_claims",
    "scale_failure",
    "shape_failure",
    "threshold_hugging",
    "tiny_component",
    "weight_failure",
]


@dataclass(frozen=True)
class AttackInfo:
    """One entry of :data:`ATTACKS`.

    Attributes
    ----------
    name : str
        The key, e.g. ``"alie"``.
    function : callable
        ``function(estimates_or_parts, alpha, rng=None, **options) -> (corrupted, failed_mask)``.
    description : str
        One line.
    knowledge : {"omniscient", "oblivious"}
        Whether the attack sees the honest estimates (and may know the rule) or nothing at all.
    takes_rule : bool
        The function accepts ``rule=`` and ``rule_options=`` (it runs the rule to stay inside its filter).
    level : {"estimates", "data"}
        What the first argument is: the local estimates, or the machines' data (then fit them).
    families : str
        The families it applies to.
    source : str
        Where the attack comes from.
    """

    name: str
    function: Callable[..., Any]
    description: str
    knowledge: str
    takes_rule: bool
    level: str
    families: str
    source: str


def _info(name: str, function: Callable[..., Any], description: str, knowledge: str, source: str, **kw: Any):
    return name, AttackInfo(
        name,
        function,
        description,
        knowledge,
        kw.get("takes_rule", False),
        kw.get("level", "estimates"),
        kw.get("families", "any"),
        source,
    )


#: Every attack by name: the gross failures, the adaptive attacks and data poisoning (read-only).
ATTACKS: Mapping[str, AttackInfo] = MappingProxyType(
    dict(
        [
            _info(
                "mean",
                mean_failure,
                "Gaussian means drawn from N(0, 100^2 I)",
                "oblivious",
                "[J] §5.1.1",
                families="gaussian",
            ),
            _info(
                "covariance",
                covariance_failure,
                "Gaussian covariances plus c_d B B^T",
                "oblivious",
                "[J] §5.1.1",
                families="gaussian",
            ),
            _info("weight", weight_failure, "weights redrawn from a Dirichlet law", "oblivious", "[J] §5.1.1"),
            _info(
                "shape",
                shape_failure,
                "Gamma shapes redrawn from U(1, 10)",
                "oblivious",
                "[J] App. D.1",
                families="gamma",
            ),
            _info(
                "scale",
                scale_failure,
                "scales plus U(0, 10)",
                "oblivious",
                "[J] App. D.1",
                families="families with a scalar scale",
            ),
            _info(
                "rate",
                rate_failure,
                "component means plus U(0, 10)",
                "oblivious",
                "this library",
                families="poisson, exponential",
            ),
            _info(
                "probability",
                probability_failure,
                "Bernoulli or categorical probabilities redrawn from U(0.01, 0.99) (categorical: renormalised)",
                "oblivious",
                "this library",
                families="bernoulli, categorical",
            ),
            _info(
                "block",
                block_failure,
                "every block of a product family corrupted by its own family's gross failure",
                "oblivious",
                "this library",
                families="product",
            ),
            _info(
                "component", component_failure, "a gross failure of some components only", "oblivious", "this library"
            ),
            _info(
                "alie",
                alie,
                "honest mean minus z standard deviations in aligned space",
                "omniscient",
                "Baruch et al. 2019",
                takes_rule=True,
            ),
            _info(
                "inner_product_manipulation",
                inner_product_manipulation,
                "the honest update from a reference, reversed and scaled by epsilon",
                "omniscient",
                "Xie et al. 2019",
                takes_rule=True,
            ),
            _info(
                "min_max",
                min_max,
                "farthest point no farther from any honest estimate than they are",
                "omniscient",
                "Shejwalkar & Houmansadr 2021",
            ),
            _info(
                "min_sum",
                min_sum,
                "farthest point within the honest sum of squared distances",
                "omniscient",
                "Shejwalkar & Houmansadr 2021",
            ),
            _info(
                "threshold_hugging",
                threshold_hugging,
                "colluding estimates just inside the rule's filter",
                "omniscient",
                "this library",
                takes_rule=True,
            ),
            _info(
                "tiny_component",
                tiny_component,
                "the honest COAT with a broad or far low-mass component",
                "omniscient",
                "this library",
                families="gaussian, poisson, exponential, scalar scale",
            ),
            _info(
                "sample_size_claims",
                sample_size_claims,
                "in-filter estimates claiming a false sample size",
                "omniscient",
                "this library",
            ),
            _info(
                "coat_capture",
                coat_capture,
                "identical estimates at the honest extreme to move the COAT",
                "omniscient",
                "this library",
            ),
            _info(
                "mimic",
                mimic,
                "copies of the honest estimate most extreme along the top principal direction",
                "omniscient",
                "Karimireddy et al. 2022",
            ),
            _info(
                "data_poisoning",
                data_poisoning,
                "outliers, shifts or unit changes in the data before EM",
                "oblivious",
                "this library",
                level="data",
            ),
        ]
    )
)

#: The attacks that see the honest estimates (knowledge model "omniscient").
ADAPTIVE_ATTACKS: Mapping[str, AttackInfo] = MappingProxyType(
    {k: v for k, v in ATTACKS.items() if v.knowledge == "omniscient"}
)


def available_attacks(*, knowledge: str | None = None, level: str | None = None) -> dict[str, AttackInfo]:
    """The attacks of :data:`ATTACKS`, optionally only those of one knowledge model or level.

    Parameters
    ----------
    knowledge : {"omniscient", "oblivious"}, optional
    level : {"estimates", "data"}, optional

    Examples
    --------
    >>> import mixagg as ma
    >>> sorted(ma.attacks.available_attacks(knowledge="omniscient", level="estimates"))[:3]
    ['alie', 'coat_capture', 'inner_product_manipulation']
    """
    if knowledge is not None and knowledge not in ("omniscient", "oblivious"):
        raise ValueError(f"knowledge must be 'omniscient' or 'oblivious', got {knowledge!r}")
    if level is not None and level not in ("estimates", "data"):
        raise ValueError(f"level must be 'estimates' or 'data', got {level!r}")
    return {
        k: v
        for k, v in ATTACKS.items()
        if (knowledge is None or v.knowledge == knowledge) and (level is None or v.level == level)
    }
