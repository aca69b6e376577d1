"""Errors a user can fix by changing their data, config or command, and the exit codes they give.

The CLI turns every :class:`TierwiseError` into one line on stderr and the
error's :attr:`~TierwiseError.exit_code` (see :class:`ExitCode`); anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """The exit codes of the ``tierwise`` command, one per kind of failure a job may want to tell apart.

    Attributes
    ----------
    OK
        The command did what it was asked.
    FAILED
        An unexpected failure, a bug: the traceback is printed.
    BAD_INPUT
        The config, an option, a path or the data is wrong; fix it and run again.
    NO_MODEL
        The MLflow store, a registered model, alias or version is missing or
        unreadable, or the model was trained for other data.
    DELIVERY_FAILED
        The export files are written, but delivering them further (the
        database tables) failed: the folder is complete, the database is not.
    MISSING_DRIVER
        An optional package is not installed (e.g. psycopg for PostgreSQL);
        the message names the extra to install.
    """

    OK = 0
    FAILED = 1
    BAD_INPUT = 2
    NO_MODEL = 3
    DELIVERY_FAILED = 4
    MISSING_DRIVER = 5


class TierwiseError(Exception):
    """Base class: the message is complete, user-facing and one line."""

    exit_code: ExitCode = ExitCode.BAD_INPUT


class ConfigError(TierwiseError):
    """The YAML config, or an override of it, is invalid."""


class InputDataError(TierwiseError):
    """An input file or DataFrame breaks the data contract."""


class ModelNotFoundError(TierwiseError):
    """The MLflow store, a registered model, its alias or version, or its files are missing or unusable."""

    exit_code = ExitCode.NO_MODEL


class DeliveryError(TierwiseError):
    """The export folder is written, but a further delivery (the database tables) failed."""

    exit_code = ExitCode.DELIVERY_FAILED


class MissingDependencyError(TierwiseError):
    """An optional dependency is not installed; the message names the extra that brings it."""

    exit_code = ExitCode.MISSING_DRIVER


class InputWarning(UserWarning):
    """Suspicious but usable input data: kept, and described in the warning's message."""
