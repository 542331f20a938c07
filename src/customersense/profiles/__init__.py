"""Segment profiles: who is in each segment and what they are worth."""

from .profiles import segment_profiles, with_recommendations

__all__ = ["segment_profiles", "with_recommendations"]
