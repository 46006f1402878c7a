"""The R bridge: MixSim's benchmark mixtures and exact overlaps (MIXSIM.md)."""

from .native_overlap import OverlapResult, native_overlap

__all__ = ["OverlapResult", "native_overlap"]
