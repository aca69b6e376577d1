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
