"""mixagg: Byzantine-tolerant distributed learning of finite mixture models.

Each machine fits a mixture locally; a server aggregates the local estimates
robustly: COAT, DFMR, CRED, ARED, TRIM (``mixagg.aggregate``), on top of the
exponential-family layer, frozen mixtures, fast L2 distances and local (penalised) EM.
``mixagg.theory`` predicts the law of the distances between estimates; ``mixagg.mixsim``
simulates benchmark mixtures with prescribed overlaps (MixSim, natively or through R).

The names below are loaded on first use (PEP 562), so ``import mixagg`` and the
``mixagg`` command start in a fraction of a second; ``mixagg.aggregate`` or
``from mixagg import fit_mixture`` imports what they need.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = (
    "attacks",
    "data_files",
    "engine",
    "exceptions",
    "families",
    "metrics",
    "r_bridge",
    "reduction",
    "robust",
    "theory",
    "wire",
)
_ATTRIBUTES = {
    "AggregationResult": "robust",
    "FitDiagnostics": "em",
    "FittedMixture": "em",
    "MixingDistribution": "mixture",
    "MixtureEM": "em",
    "aggregate": "robust",
    "fit_mixture": "em",
    "get_family": "families",
    "l2_distance": "distances",
    "l2_distance_matrix": "distances",
    "mixsim": "r_bridge",
    "register_family": "families",
    "show_versions": "_show_versions",
}

__all__ = sorted(["__version__", *_SUBMODULES, *_ATTRIBUTES])


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    elif name in _ATTRIBUTES:
        value = getattr(importlib.import_module(f"{__name__}.{_ATTRIBUTES[name]}"), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
