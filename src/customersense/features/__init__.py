"""Per-customer features as of a date, as engine expressions."""

from .customer import FEATURE_COLUMNS, ENGAGEMENT_WEIGHTS, customer_features, customer_frame, engagement_scores

__all__ = ["FEATURE_COLUMNS", "ENGAGEMENT_WEIGHTS", "customer_features", "customer_frame", "engagement_scores"]
