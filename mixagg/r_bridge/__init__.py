"""The R bridge: MixSim's benchmark mixtures and exact overlaps (MIXSIM.md); R <-> numpy layouts in ``convert``."""

from . import convert
from .native_overlap import OverlapResult, native_overlap

__all__ = ["OverlapResult", "convert", "native_overlap"]
