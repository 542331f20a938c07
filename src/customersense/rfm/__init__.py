"""Classic RFM: quantile scores 1-5 and the 125-cell segment map (a data file)."""

from .scoring import RFMScores, DimensionBins, score_rfm
from .segments import SegmentMap, load_segment_map

__all__ = ["RFMScores", "DimensionBins", "score_rfm", "SegmentMap", "load_segment_map"]
