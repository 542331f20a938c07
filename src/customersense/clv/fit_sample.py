"""The churn and CLV candidates fitted and ranked on a seeded sample of customers.

Above ``clv.fit_sample`` customers (those with a first purchase on or before the last day),
every candidate is fitted, scored on the holdout and chosen on a uniform sample of about
``clv.fit_sample`` of them, and the chosen model is refitted on the same sample's whole history;
its predictions (churn probability, expected purchases and spend, CLV, P(alive)) are then
computed for every customer. At or below the limit, or with ``clv.fit_sample = 0``, nothing is
sampled.

The sample: the customers whose engine hash bucket of ``customer_id`` and the run's seed
(:func:`customersense.engine.base.sample_bucket`) is below ``fraction * SAMPLE_BUCKETS``, with
``fraction = fit_sample / customers``: each customer is in it with that probability,
independently of the others and of the data (a Bernoulli sample, its size binomial around
``fit_sample``), the same customers for the same seed, and the same for every candidate; a
customer in the sample at the calibration end is in it at the last day.

What it costs in accuracy: each BTYD (and Gamma-Gamma) log-likelihood is a sum over customers,
so the maximum-likelihood estimate on a uniform sample of ``n`` of the ``N`` customers is,
for large ``n``, normal around the estimate on all of them with covariance
``(1/n - 1/N) I⁻¹`` (``I``: the information per customer), that is the sample fit's own
covariance times ``1 - n/N``. Each parameter's **sampling error** against the fit on every
customer is therefore its standard error from the sample fit times ``sqrt(1 - n/N)``; the fit
records carry both (``standard_errors``: the uncertainty about the true parameter, from the
sample; ``sampling_errors``: the difference from a fit on all customers). Tested on planted
BG/NBD customers (``tests/clv/test_fit_sample.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import ibis
import numpy as np

from ..engine.base import SAMPLE_BUCKETS, sample_bucket, sample_cut

BUCKET = "sample_bucket"  # the column of customer_periods holding each customer's bucket


@dataclass(frozen=True)
class FitSample:
    """Which customers the candidates are fitted on: all (``cut`` None) or those whose bucket
    is below ``cut``."""

    customers: int       # customers of the run
    limit: int           # clv.fit_sample (0: no limit)
    seed: int
    cut: int | None

    @classmethod
    def of(cls, customers: int, limit: int, seed: int) -> "FitSample":
        """The sample rule of a run of ``customers`` customers (see the module docstring)."""
        sampled = 0 < limit < customers
        return cls(int(customers), int(limit), int(seed), sample_cut(limit / customers) if sampled else None)

    @property
    def sampled(self) -> bool:
        return self.cut is not None

    def mask(self, buckets: np.ndarray) -> np.ndarray | None:
        """Which rows (by their :data:`BUCKET`) are in the sample; None when all are."""
        return None if self.cut is None else np.asarray(buckets) < self.cut

    def days(self, days: ibis.Table) -> ibis.Table:
        """The purchase days of the sampled customers (all of them when nothing is sampled)."""
        if self.cut is None:
            return days
        return days.filter(sample_bucket(days.customer_id, self.seed) < self.cut)

    def record(self, fitted: int, holdout: int, holdout_known: int) -> dict[str, Any]:
        """clv_models.json's ``fit_sample``: how many customers the models were fitted on (of
        ``customers``), how many of the ``holdout_known`` customers known at the calibration end
        the holdout scores cover, and the rule."""
        out: dict[str, Any] = {"customers": self.customers, "customers_fitted": int(fitted),
                               "holdout_customers_scored": int(holdout), "holdout_customers_known": int(holdout_known),
                               "limit": self.limit, "sampled": self.sampled}
        if self.sampled:
            out.update(
                seed=self.seed, fraction=round(self.cut / SAMPLE_BUCKETS, 8),
                rule=(f"above {self.limit:,} customers every churn/CLV candidate is fitted, scored on the holdout "
                      "and chosen on a seeded uniform sample of customers (those whose hash(customer_id, seed) bucket "
                      "falls below the sampling fraction; the same for every candidate), and the chosen model is "
                      "refitted on the sample's whole history; its predictions cover every customer"),
                parameter_error=("each parameter's sampling_errors = its standard error from the sample fit x "
                                 "sqrt(1 - customers_fitted / customers): the standard deviation of the sample "
                                 "estimate around the estimate a fit on every customer would give"))
        else:
            out["rule"] = ("every customer (clv.fit_sample = 0)" if self.limit == 0
                           else f"every customer ({self.customers:,} <= clv.fit_sample {self.limit:,})")
        return out

    def with_sampling_errors(self, fit: dict[str, Any], of: int) -> dict[str, Any]:
        """A fit record (:func:`~customersense.clv.candidates.describe_fit`) on the sampled
        customers of a population of ``of``, with ``customers_of`` and ``sampling_errors`` when
        sampled (see the module docstring); unchanged otherwise."""
        if not self.sampled:
            return fit
        return {**fit, "customers_of": int(of),
                "sampling_errors": sampling_errors(fit["standard_errors"], fit["customers"], of)}


def sampling_errors(standard_errors: dict[str, float], fitted: int, customers: int) -> dict[str, float]:
    """Each parameter's standard deviation around the fit on all ``customers`` of a fit on a
    uniform sample of ``fitted`` of them: its sample standard error times ``sqrt(1 - n/N)``."""
    shrink = math.sqrt(max(0.0, 1.0 - fitted / customers)) if customers else 0.0
    return {k: float(v) * shrink for k, v in standard_errors.items()}
