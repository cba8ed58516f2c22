"""Customer lifetime value: the discounted formula, probabilistic models, and CLVModel.

BG/NBD and Pareto/NBD for purchase counts, Gamma-Gamma for spend, and the
shifted-beta-geometric model for contractual retention, all fitted by
maximum likelihood with numpy/scipy; :class:`CLVModel` builds them from the
contract tables as of a date, scores and segments every customer, and is a
crmml scorer (save/load as data, MLflow).
"""

from crmml.clv._bgnbd import BetaGeoModel
from crmml.clv._evaluation import HoldoutEvaluation, evaluate_holdout
from crmml.clv._formula import discounted_clv
from crmml.clv._gamma_gamma import GammaGammaModel
from crmml.clv._history import estimate_retention, formula_clv
from crmml.clv._model import CLVModel
from crmml.clv._pareto_nbd import ParetoNBDModel
from crmml.clv._sbg import ShiftedBetaGeometricModel
from crmml.clv._segments import SEGMENTS, assign_segments
from crmml.clv._simulate import simulate_bgnbd, simulate_gamma_gamma, simulate_pareto_nbd, simulate_sbg

__all__ = [
    "CLVModel",
    "evaluate_holdout",
    "HoldoutEvaluation",
    "SEGMENTS",
    "assign_segments",
    "discounted_clv",
    "formula_clv",
    "estimate_retention",
    "BetaGeoModel",
    "GammaGammaModel",
    "ParetoNBDModel",
    "ShiftedBetaGeometricModel",
    "simulate_bgnbd",
    "simulate_pareto_nbd",
    "simulate_gamma_gamma",
    "simulate_sbg",
]
