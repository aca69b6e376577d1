from __future__ import annotations

import sys

import pytest

from tierwise import cli


def run_cli(args: list[str], capsys, monkeypatch) -> tuple[int, str, str]:
    """Run the real entry point in-process; returns (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["tierwise", *map(str, args)])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
        raise SystemExit(0)
    captured = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 0 if code is None else 1), captured.out, captured.err


def run_main(patch: pytest.MonkeyPatch, args: list) -> None:
    """Run the real entry point in-process from a module fixture (no capsys there); a failed command fails the test."""
    patch.setattr(sys, "argv", ["tierwise", *map(str, args)])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
        raise SystemExit(0)
    assert exit_info.value.code in (0, None)


# Training settings small enough for a test, large enough for models that rank.
FAST_TRAINING = ["--set", "training.training_snapshots=2", "--set", "training.churn_model.max_rounds=40",
                 "--set", "training.value_model.max_rounds=40"]


def train_into_new_store(folder, data_dir) -> tuple[str, object]:
    """``tierwise train`` on the demo data in ``data_dir``, into an MLflow store of its own in ``folder``.

    Returns the store's URI and the config file written there; each caller keeps its own store, so the
    versions and aliases one test module registers never reach another.
    """
    import json

    from tierwise.config import demo_config

    uri = f"sqlite:///{folder / 'mlflow.db'}"
    config_path = folder / "demo.json"
    config_path.write_text(json.dumps(demo_config(data_dir).model_dump(mode="json")))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        patch.chdir(folder)
        run_main(patch, ["train", "--config", config_path, *FAST_TRAINING])
    return uri, config_path
