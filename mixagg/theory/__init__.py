"""Theory: the limit law of L2 distances between mixture estimates ([J] §4.2, App. B.2–B.4; MATH.md §9)."""

from .gchisq import GeneralizedChiSquared

__all__ = ["GeneralizedChiSquared"]
