"""mixagg: Byzantine-tolerant distributed learning of finite mixture models.

Each machine fits a mixture locally; a server aggregates the local estimates
robustly: COAT, DFMR, CRED, ARED, TRIM (``mixagg.aggregate``), on top of the
exponential-family layer, frozen mixtures, fast L2 distances and local (penalised) EM.
``mixagg.theory`` predicts the law of the distances between estimates; ``mixagg.mixsim``
simulates benchmark mixtures with prescribed overlaps (MixSim, natively or through R).
"""

from . import attacks, data_files, engine, exceptions, families, metrics, r_bridge, reduction, robust, theory, wire
from ._show_versions import show_versions
from .distances import l2_distance, l2_distance_matrix
from .em import FitDiagnostics, FittedMixture, MixtureEM, fit_mixture
from .families import get_family, register_family
from .mixture import MixingDistribution
from .r_bridge import mixsim
from .robust import AggregationResult, aggregate

__version__ = "0.1.0"

__all__ = [
    "AggregationResult",
    "FitDiagnostics",
    "FittedMixture",
    "MixingDistribution",
    "MixtureEM",
    "__version__",
    "aggregate",
    "attacks",
    "data_files",
    "engine",
    "exceptions",
    "families",
    "fit_mixture",
    "get_family",
    "l2_distance",
    "l2_distance_matrix",
    "metrics",
    "mixsim",
    "r_bridge",
    "reduction",
    "register_family",
    "robust",
    "show_versions",
    "theory",
    "wire",
]
