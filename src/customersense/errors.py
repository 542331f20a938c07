"""Errors that reach the user as one line and a named exit code.

Every error raised on bad input or bad configuration is a :class:`CustomerSenseError`
subclass whose message says what is wrong, where (file, column or row) and what to do.
The CLI prints the message alone (no traceback unless ``--debug``) and exits with the
class's ``exit_code``.
"""

from __future__ import annotations

# Named exit codes (2 is click's usage error).
EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_DATA = 4
EXIT_CONFIG = 5
EXIT_OUTPUT = 6
EXIT_RESOURCE = 7
EXIT_MODEL = 8


class CustomerSenseError(Exception):
    """Base class: a user-facing problem with a one-line message."""

    exit_code = EXIT_INTERNAL


class InputError(CustomerSenseError):
    """The input cannot be opened or read: missing file, unknown format, unreadable bytes."""

    exit_code = EXIT_INPUT


class SchemaError(CustomerSenseError):
    """A required column is missing or a column mapping is wrong."""

    exit_code = EXIT_DATA


class DataError(CustomerSenseError):
    """The values cannot be used: unparseable dates or amounts, nothing left after cleaning."""

    exit_code = EXIT_DATA


class ConfigError(CustomerSenseError):
    """The configuration (flags, TOML file, segment map) is invalid."""

    exit_code = EXIT_CONFIG


class OutputError(CustomerSenseError):
    """The outputs cannot be written."""

    exit_code = EXIT_OUTPUT


class ResourceError(CustomerSenseError):
    """The machine's resources ran out: the engine could not stay within its memory limit."""

    exit_code = EXIT_RESOURCE


class ModelError(CustomerSenseError):
    """A saved model bundle cannot be used: missing, unknown format, changed after it was written."""

    exit_code = EXIT_MODEL
