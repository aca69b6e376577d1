from __future__ import annotations

import pandas as pd
import pytest

from tierwise.config import demo_config
from tierwise.io import write_demo_data
from tierwise.synthetic import generate_demo_data


@pytest.fixture(scope="session")
def small_demo():
    """A few hundred synthetic customers, shared by tests that only read them."""
    return generate_demo_data(400, seed=3)


@pytest.fixture(scope="session")
def small_demo_dir(tmp_path_factory, small_demo):
    folder = tmp_path_factory.mktemp("demo")
    write_demo_data(small_demo, folder)
    return folder


@pytest.fixture(scope="session")
def small_demo_config(small_demo_dir):
    return demo_config(small_demo_dir)


def frame(rows: list[tuple], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns)


@pytest.fixture(scope="session")
def spark():
    """One local Spark session for every Spark test, so the suite starts the JVM once; skipped without pyspark or Java."""
    pytest.importorskip("pyspark")
    import os
    import shutil

    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark needs a Java runtime (.ci/run installs one)")
    from tierwise.config import SparkConfig
    from tierwise.spark import spark_session

    session = spark_session(SparkConfig(master="local[2]", settings={
        "spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "2", "spark.driver.memory": "1g",
        "spark.sql.adaptive.enabled": "false",
    }))
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
