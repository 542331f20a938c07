"""Customer-level models: preprocessing, anomaly detection, k selection, the segmenter."""
