"""Customer lifetime value and churn: BG/NBD, MBG/NBD, Pareto/NBD and Gamma-Gamma fitted by
(optionally penalised) maximum likelihood.

Typical use, from cleaned transactions (an Ibis table)::

    summary = rfm_summary(clean, calibration_end, holdout_end=holdout_end)   # weeks
    bg = BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    gg = GammaGammaFitter().fit(summary["frequency"], summary["monetary_value"])
    clv = customer_lifetime_value(bg, gg, summary, horizon=12, discount_rate=0.01)
    churn = bg.probability_no_purchase(13, summary["frequency"], summary["recency"], summary["T"])
    bg.converged_, bg.identifiability_      # honest fit status: read before trusting the numbers

Note: use ``summary["T"]``, not ``summary.T`` (the DataFrame transpose).
"""

from ._base import ConvergenceError
from .evaluation import calibration_by_frequency, churn_auc, holdout_accuracy, predict_holdout, tracking_data
from .mbgnbd import ModifiedBetaGeoFitter
from .models import BetaGeoFitter, GammaGammaFitter, ParetoNBDFitter, customer_lifetime_value
from .summary import rfm_summary, tracking_inputs

__all__ = [
    "BetaGeoFitter", "ConvergenceError", "GammaGammaFitter", "ModifiedBetaGeoFitter", "ParetoNBDFitter",
    "calibration_by_frequency", "churn_auc", "customer_lifetime_value",
    "holdout_accuracy", "predict_holdout", "rfm_summary", "tracking_data", "tracking_inputs",
]
