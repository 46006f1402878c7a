"""mixagg: Byzantine-tolerant distributed learning of finite mixture models.

Each machine fits a mixture locally; a server aggregates the local estimates
robustly (COAT, DFMR, ...). Available: the exponential-family layer, frozen
mixtures, fast L2 distances between mixture densities, and local (penalised) EM.
"""

from . import exceptions, families
from .distances import l2_distance, l2_distance_matrix
from .em import FitDiagnostics, FittedMixture, MixtureEM, fit_mixture
from .families import get_family, register_family
from .mixture import MixingDistribution

__version__ = "0.1.0"

__all__ = [
    "FitDiagnostics",
    "FittedMixture",
    "MixingDistribution",
    "MixtureEM",
    "__version__",
    "exceptions",
    "families",
    "fit_mixture",
    "get_family",
    "l2_distance",
    "l2_distance_matrix",
    "register_family",
]
