"""The 20,000-customer demo retailer's churn backtest snapshots, shared by the model benchmarks."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from tierwise.config import TierwiseConfig, demo_config
from tierwise.inputs import inputs_from_frames
from tierwise.synthetic import generate_demo_data
from tierwise.training import SnapshotPlan, model_features, plan_snapshots
from tierwise.training._snapshots import SnapshotBuilder


@dataclass
class DemoBacktest:
    config: TierwiseConfig
    builder: SnapshotBuilder
    columns: list[str]
    plan: SnapshotPlan
    test: pd.DataFrame


def demo_churn_backtest() -> DemoBacktest:
    demo = generate_demo_data(20_000, seed=7)
    config = demo_config("unused")
    inputs = inputs_from_frames(
        demo.transactions, events=demo.events, customers=demo.customers, data=config.data, features=config.features
    )
    builder = SnapshotBuilder(inputs, config.features, config.training)
    plan = plan_snapshots(inputs, config.training, horizon_days=config.training.churn_horizon_days, for_backtest=True)
    return DemoBacktest(config, builder, model_features(inputs, config.features), plan, builder.churn_rows(plan.test))
