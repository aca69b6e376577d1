"""Errors a user can fix by changing their data, config or command.

The CLI turns every :class:`TierwiseError` into one line on stderr and a
non-zero exit; anything else is a bug and keeps its traceback.
"""


class TierwiseError(Exception):
    """Base class: the message is complete, user-facing and one line."""


class ConfigError(TierwiseError):
    """The YAML config, or an override of it, is invalid."""


class InputDataError(TierwiseError):
    """An input file or DataFrame breaks the data contract."""
