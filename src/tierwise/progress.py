"""Progress of the long steps (snapshots built, models fitted, customers scored, reasons computed).

The library reports progress as log records on the ``tierwise.progress``
logger, which does not propagate: nothing shows unless someone listens. The
CLI listens on a terminal and shows each record in its spinner; under
``--quiet``, in JSON logs and in a cron job's plain log nothing is shown. In a
notebook, attach a handler to see them::

    import logging
    logging.getLogger("tierwise.progress").addHandler(logging.StreamHandler())
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

PROGRESS_LOGGER = "tierwise.progress"

_logger = logging.getLogger(PROGRESS_LOGGER)
_logger.propagate = False


@dataclass(frozen=True)
class Progress:
    """One step of a long task, as carried by a ``tierwise.progress`` log record (its ``progress`` attribute).

    Attributes
    ----------
    message : str
        What is being done, e.g. ``"building features as of 2025-06-01"``.
    done : int or None
        How many of the task's items are done or under way with this step
        (e.g. the snapshot being built is number ``done``); None for a step
        that is not counted.
    total : int or None
        How many items the task has, when known.
    """

    message: str
    done: int | None = None
    total: int | None = None

    def __str__(self) -> str:
        """The message, followed by ``(i of n)`` when counted."""
        if self.done is None:
            return self.message
        if self.total is None:
            return f"{self.message} ({self.done})"
        return f"{self.message} ({self.done} of {max(self.done, self.total)})"


def report_progress(message: str, *, done: int | None = None, total: int | None = None) -> None:
    """Report one step of a long task to whoever listens on the ``tierwise.progress`` logger.

    Parameters
    ----------
    message : str
        What is being done now.
    done : int, optional
        The number of the item this step works on (1 for the first).
    total : int, optional
        How many items there are, when known.

    Examples
    --------
    >>> report_progress("building features as of 2025-06-01", done=3, total=12)
    """
    step = Progress(message, done, total)
    _logger.info("%s", step, extra={"progress": step})
