"""tierwise evaluate against a world where the outreach's effect is known.

One model is trained on its own synthetic world; each seed's world is scored
with it through ``tierwise score`` (half the list held out as control), the
year after the list is simulated with the contacted customers' lapse hazard
lowered by 30% and by 0%, from the same draws, and ``evaluate_run`` measures
contacted minus control. The truth is the simulator's own: every listed
customer's outcome with and without contact (coupled potential outcomes).
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from cli_helpers import run_main
from tierwise.config import demo_config
from tierwise.io import read_config_inputs, read_outreach_list, write_demo_data
from tierwise.monitoring import evaluate_run
from tierwise.synthetic import generate_demo_data, simulate_outreach_effect

SEEDS = range(10)
CUSTOMERS = 8_000
AS_OF = "2026-01-01"
# A year's retention: over the demo's 90 days the effect of a 30% lower hazard is about 1 point, which only
# tens of thousands of customers per group could tell from noise; over 365 days it is about 2.5 points.
HORIZON = ["--set", "training.churn_horizon_days=365"]
FAST = ["--set", "training.training_snapshots=2", "--set", "training.churn_model.max_rounds=60",
        "--set", "training.value_model.max_rounds=40"]


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """Per seed and simulated effect: the measured retention effect and the true one on the same list."""
    folder = tmp_path_factory.mktemp("outreach-effect")
    write_demo_data(generate_demo_data(3_000, seed=1_000), folder / "training-data")
    config = folder / "demo.json"
    settings = demo_config(folder / "training-data").model_dump(mode="json")
    settings["outreach"].update(control_share=0.5)
    settings["scoring"].update(reasons_top_n=0)
    config.write_text(json.dumps(settings), encoding="utf-8")
    results = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
        patch.chdir(folder)
        run_main(patch, ["train", "--config", config, *HORIZON, *FAST])
        for seed in SEEDS:
            world = folder / f"world-{seed}"
            write_demo_data(generate_demo_data(CUSTOMERS, seed=seed), world / "data")
            run = world / "run"
            run_main(patch, ["score", "--config", config, "--out", run, "--as-of", AS_OF, "--no-report",
                             "--transactions", world / "data" / "transactions.parquet",
                             "--events", world / "data" / "events.parquet",
                             "--customers", world / "data" / "customers.parquet", *HORIZON])
            listed, horizons = read_outreach_list(run)
            for effect in (0.3, 0.0):
                simulation = simulate_outreach_effect(
                    listed, n_customers=CUSTOMERS, seed=seed, as_of=AS_OF, effect=effect,
                    churn_horizon_days=int(horizons["churn_horizon_days"]),
                    value_horizon_days=int(horizons["value_horizon_days"]),
                )
                after = world / f"after-{effect}"
                write_demo_data(simulation.data, after)
                # The simulated year runs past today: tell the date check where this data set ends.
                after_config = demo_config(after)
                after_config = after_config.model_copy(update={"data": after_config.data.model_copy(
                    update={"max_timestamp": simulation.data.transactions["timestamp"].max().date()})})
                evaluation = evaluate_run(run, read_config_inputs(after_config), config=after_config)
                results[seed, effect] = (evaluation.effect("retention"),
                                         simulation.summary["true_effects"]["listed"]["retention"]["effect"])
    return results


def _covers(effect, truth: float) -> bool:
    return effect.lower <= truth <= effect.upper


def test_a_real_effect_is_found_and_its_interval_covers_the_simulated_one(measured):
    rows = pd.DataFrame(
        [(seed, e.estimate, e.lower, e.upper, truth, e.n_contacted, e.n_control)
         for (seed, effect), (e, truth) in measured.items() if effect == 0.3],
        columns=["seed", "estimate", "lower", "upper", "truth", "contacted", "control"],
    )
    print(rows.to_string())
    assert (rows["truth"] > 0.01).all()  # the simulated effect is real on every seed's list
    assert (rows["estimate"] > 0).sum() >= 9
    assert sum(_covers(e, truth) for (seed, effect), (e, truth) in measured.items() if effect == 0.3) >= 9


def test_no_effect_gives_intervals_that_cover_zero(measured):
    nulls = [(e, truth) for (seed, effect), (e, truth) in measured.items() if effect == 0.0]
    assert all(truth == 0.0 for _, truth in nulls)  # with X = 0 nobody's outcome changes
    assert sum(_covers(e, 0.0) for e, _ in nulls) >= 9
