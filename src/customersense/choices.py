"""The allowed values of the model settings, defined once: the settings (``config/``) and the
estimators (``models/``) both check against these, so a rule cannot differ between the two."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

SCALERS = ("standard", "robust")
OUTLIER_MODES = ("assign", "separate")
CONTAMINATION_MAX = 0.5


def check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    """``ValueError`` naming ``name``, the value and the allowed ones when ``value`` is not one."""
    if value not in allowed:
        raise ValueError(f"{name}={value!r}: use {' or '.join(repr(a) for a in allowed)}")


K_MIN = 2  # the fewest segments a sweep tries
K_RANGE_RULE = f"need {K_MIN} <= k_min <= k_max"


def k_range_ok(lo: Any, hi: Any) -> bool:
    """A k sweep from ``lo`` to ``hi``: two integers with 2 <= lo <= hi."""
    return isinstance(lo, Integral) and isinstance(hi, Integral) and K_MIN <= lo <= hi


CONTAMINATION_RULE = f"use 'auto' or a number in [0, {CONTAMINATION_MAX}]"


def contamination_ok(value: Any) -> bool:
    """``"auto"`` or a share in [0, 0.5] (Isolation Forest's own bounds)."""
    return value == "auto" or (isinstance(value, Real) and not isinstance(value, bool)
                               and 0 <= value <= CONTAMINATION_MAX)


def check_contamination(name: str, value: Any) -> None:
    """``ValueError`` naming ``name`` and the value unless :func:`contamination_ok`."""
    if not contamination_ok(value):
        raise ValueError(f"{name}={value!r}: {CONTAMINATION_RULE}")
