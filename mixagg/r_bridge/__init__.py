"""The R bridge: MixSim's benchmark mixtures and exact overlaps (docs/mixsim.md), natively or through rpy2.

``mixsim`` simulates a Gaussian mixture with a prescribed maximum and/or average overlap,
``overlap`` computes the exact pairwise misclassification probabilities; both run R's MixSim
(``backend="r"``) or a native implementation (``backend="python"``, the default without R).
``convert`` holds the R <-> numpy layouts.
"""

from . import convert
from .dispatch import MixSimResult, mixsim, overlap
from .native_overlap import OverlapResult

__all__ = ["MixSimResult", "OverlapResult", "convert", "mixsim", "overlap"]
