"""Pure metrics for clusterings: ``(X, labels) -> value``."""

from .metrics import SilhouetteEstimate, calinski_harabasz, davies_bouldin, knee_point, silhouette, silhouettes

__all__ = ["SilhouetteEstimate", "calinski_harabasz", "davies_bouldin", "knee_point", "silhouette", "silhouettes"]
