"""Byzantine-tolerant aggregation of local mixture estimates ([J] §3–4, Algorithm 1; [A] §3).

All rules take the list of received local estimates (one family, one order :math:`K`) and
return an :class:`AggregationResult` holding the aggregate and everything needed to audit
the decision. The package is organised as the computation is:

:mod:`~mixagg.robust.pipeline`
    the stages (estimates -> distances -> COAT -> filter -> reduce -> align);
:mod:`~mixagg.robust.coat`
    the COAT radius and the check of the majority around it;
:mod:`~mixagg.robust.rules`
    the rule extension point (:class:`AggregationRule`, :class:`Option`, :func:`register_method`)
    and :func:`aggregate`;
:mod:`~mixagg.robust.methods`
    the built-in rules: ``coat``, ``dfmr``, ``cred``, ``ared``, ``sfmr``, ``trim``, ``vanilla``, ``oracle``;
:mod:`~mixagg.robust.screen`
    the atom screen of the distance-filtered rules;
:mod:`~mixagg.robust.result`
    :class:`AggregationResult`.

See ``docs/aggregation.md``.
"""

from . import pipeline
from .coat import MAJORITY_JUMP, MAJORITY_OVERLAP, RADIUS_RULES, coat_radius
from .methods import (
    ARED,
    COAT,
    CRED,
    DFMR,
    SFMR,
    TRIM,
    Oracle,
    Vanilla,
    ared,
    ared_threshold,
    coat,
    cred,
    dfmr,
    oracle,
    sfmr,
    trim,
    vanilla,
)
from .result import AggregationResult
from .rules import METHODS, AggregationRule, Option, aggregate, available_methods, get_method, register_method

__all__ = [
    "ARED",
    "COAT",
    "CRED",
    "DFMR",
    "MAJORITY_JUMP",
    "MAJORITY_OVERLAP",
    "METHODS",
    "RADIUS_RULES",
    "SFMR",
    "TRIM",
    "AggregationResult",
    "AggregationRule",
    "Option",
    "Oracle",
    "Vanilla",
    "aggregate",
    "ared",
    "ared_threshold",
    "available_methods",
    "coat",
    "coat_radius",
    "cred",
    "dfmr",
    "get_method",
    "oracle",
    "pipeline",
    "register_method",
    "sfmr",
    "trim",
    "vanilla",
]
