"""Per-customer features as of a date, as engine expressions."""

from .customer import FEATURE_COLUMNS, ENGAGEMENT_WEIGHTS, customer_features

__all__ = ["FEATURE_COLUMNS", "ENGAGEMENT_WEIGHTS", "customer_features"]
