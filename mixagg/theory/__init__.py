"""Theory: the limit law of L2 distances between mixture estimates ([J] §4.2, App. B.2–B.4; docs/theory.md)."""

from .concentration import (
    ConcentrationReport,
    DistanceLaw,
    concentration_report,
    distance_eigenvalues,
    predicted_distance_law,
)
from .gchisq import GeneralizedChiSquared
from .information import FisherInformation, fisher_information, l2_hessian, score
from .rho import RhoSuggestion, rho_for_eigenvalues, suggest_rho

__all__ = [
    "ConcentrationReport",
    "DistanceLaw",
    "FisherInformation",
    "GeneralizedChiSquared",
    "RhoSuggestion",
    "concentration_report",
    "distance_eigenvalues",
    "fisher_information",
    "l2_hessian",
    "predicted_distance_law",
    "rho_for_eigenvalues",
    "score",
    "suggest_rho",
]
