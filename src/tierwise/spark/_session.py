"""The Spark session the engine runs in, and the one setting it insists on: UTC."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from tierwise.config import SparkConfig
from tierwise.errors import TierwiseError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

_INSTALL = "pip install 'tierwise[spark]'"
TIME_ZONE_SETTING = "spark.sql.session.timeZone"


def check_spark_installed() -> None:
    """Refuse in one line when pyspark or a Java runtime is missing.

    Raises
    ------
    TierwiseError
        Naming the extra to install (``tierwise[spark]``) or the Java runtime
        Spark needs.
    """
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise TierwiseError(f"--engine spark needs pyspark, which is not installed: {_INSTALL}") from None
    java_home = os.environ.get("JAVA_HOME")
    if shutil.which("java") is None and not (java_home and os.path.exists(os.path.join(java_home, "bin", "java"))):
        raise TierwiseError(
            f"--engine spark needs a Java runtime (17 or 21), and none is on PATH or in JAVA_HOME: install one "
            f"(e.g. apt-get install openjdk-17-jre-headless) beside {_INSTALL}"
        )


def spark_session(config: SparkConfig) -> SparkSession:
    """A session on ``config.master`` with ``config.settings``, in UTC; an existing one is reused.

    Parameters
    ----------
    config : SparkConfig
        The ``spark`` section of the config.

    Returns
    -------
    SparkSession
        With a local master, Spark's Python workers run this Python, which
        imports this tierwise.

    Raises
    ------
    TierwiseError
        When pyspark or Java is missing.
    """
    check_spark_installed()
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(config.master).appName(config.app_name)
    if config.master.startswith("local") and "spark.pyspark.python" not in config.settings:
        # Python workers on this machine run this Python, which has tierwise; a cluster names its own.
        builder = builder.config("spark.pyspark.python", sys.executable)
    for key, value in config.settings.items():
        builder = builder.config(key, value)
    return builder.config(TIME_ZONE_SETTING, "UTC").getOrCreate()


@contextmanager
def utc_session(spark: SparkSession) -> Iterator[SparkSession]:
    """Run the enclosed queries with the session time zone at UTC, then put the caller's zone back.

    Inputs are read as the DuckDB engine reads them: timestamps without a zone
    are UTC, zoned ones are converted to UTC, and all of them become
    ``TIMESTAMP_NTZ``, whose arithmetic no session zone can shift. The zone is
    still pinned while tierwise's queries run, because a Spark ``TIMESTAMP``
    (with local time zone) column becomes a wall-clock time in the session zone
    when converted, and a zone with summer time would move some records by an
    hour.

    Parameters
    ----------
    spark : pyspark.sql.SparkSession
        The session.

    Yields
    ------
    pyspark.sql.SparkSession
        The same session, its time zone UTC.
    """
    previous = spark.conf.get(TIME_ZONE_SETTING)
    spark.conf.set(TIME_ZONE_SETTING, "UTC")
    try:
        yield spark
    finally:
        if previous is not None:
            spark.conf.set(TIME_ZONE_SETTING, previous)
        else:
            spark.conf.unset(TIME_ZONE_SETTING)
