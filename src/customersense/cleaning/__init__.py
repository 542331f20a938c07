"""The cleaning stage: each row kept or dropped by exactly one rule, every drop counted."""

from .rules import (
    IS_RETURN,
    LINE_AMOUNT,
    ORDER_KEY,
    POST_DUPLICATE_RULES,
    PRE_DUPLICATE_RULES,
    PURCHASE_DATE,
    RULES,
    CleaningReport,
    CleanTransactions,
    clean,
)

__all__ = [
    "IS_RETURN", "LINE_AMOUNT", "ORDER_KEY", "POST_DUPLICATE_RULES", "PRE_DUPLICATE_RULES", "PURCHASE_DATE",
    "RULES", "CleaningReport", "CleanTransactions", "clean",
]
