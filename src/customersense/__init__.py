"""CustomerSense: turn a raw transaction log into customer segments a marketing team can act on."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("customersense")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

__all__ = ["__version__"]
