"""mixagg: Byzantine-tolerant distributed learning of finite mixture models.

Each machine fits a mixture locally; a server aggregates the local estimates
robustly (COAT, DFMR, ...). This release provides the exponential-family layer,
frozen mixtures and fast L2 distances between mixture densities.
"""

from . import exceptions, families
from .distances import l2_distance, l2_distance_matrix
from .families import get_family, register_family
from .mixture import MixingDistribution

__version__ = "0.1.0"

__all__ = [
    "MixingDistribution",
    "__version__",
    "exceptions",
    "families",
    "get_family",
    "l2_distance",
    "l2_distance_matrix",
    "register_family",
]
