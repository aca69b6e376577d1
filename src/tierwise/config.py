"""One typed config for the whole pipeline, loaded from YAML.

Every section is a frozen pydantic model that rejects unknown keys, so a typo
in a YAML file fails at load time with the file and the key in the message,
instead of being silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tierwise.errors import ConfigError

FileFormat = Literal["csv", "parquet", "whitespace"]
OrderGrouping = Literal["day", "order_id", "line"]

_IDENTIFIER = re.compile(r"[^0-9a-zA-Z]+")


def feature_slug(name: str) -> str:
    """Turn an event type or attribute name into a safe lower-case column stem."""
    return _IDENTIFIER.sub("_", name).strip("_").lower()


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TransactionColumns(_Section):
    """Names of the transaction columns in the user's file."""

    customer_id: str = "customer_id"
    timestamp: str = "timestamp"
    amount: str = "amount"
    order_id: str | None = None
    quantity: str | None = None
    category: str | None = None
    channel: str | None = None


class EventColumns(_Section):
    """Names of the engagement-event columns in the user's file."""

    customer_id: str = "customer_id"
    timestamp: str = "timestamp"
    event_type: str = "event_type"
    value: str | None = None


class CustomerColumns(_Section):
    """Names of the customer-table columns in the user's file."""

    customer_id: str = "customer_id"
    signup_date: str | None = None


class _Source(_Section):
    path: str
    format: FileFormat | None = Field(
        default=None, description="csv, parquet or whitespace; None infers it from the file suffix"
    )
    timestamp_format: str | None = Field(
        default=None, description="strftime format of the timestamps, e.g. '%Y%m%d'; None parses ISO dates"
    )


class TransactionsSource(_Source):
    columns: TransactionColumns = TransactionColumns()


class EventsSource(_Source):
    columns: EventColumns = EventColumns()


class CustomersSource(_Source):
    columns: CustomerColumns = CustomerColumns()
    attributes: tuple[str, ...] | None = Field(
        default=None, description="static attribute columns to use as features; None takes every other column"
    )


class DataConfig(_Section):
    transactions: TransactionsSource
    events: EventsSource | None = None
    customers: CustomersSource | None = None


class FeatureConfig(_Section):
    """How the point-in-time features are computed."""

    order_grouping: OrderGrouping = Field(
        default="day",
        description="what counts as one order: all lines of a customer on one day, one order id, or each line",
    )
    spend_windows_days: tuple[int, ...] = (30, 90, 180, 365)
    event_types: tuple[str, ...] = ("visit", "email_open", "email_click", "complaint", "return", "support_ticket")
    event_windows_days: tuple[int, ...] = (30, 90)

    @field_validator("spend_windows_days", "event_windows_days")
    @classmethod
    def _windows_are_positive_and_distinct(cls, windows: tuple[int, ...]) -> tuple[int, ...]:
        if not windows:
            raise ValueError("needs at least one window")
        if any(w <= 0 for w in windows):
            raise ValueError(f"windows must be positive numbers of days, got {list(windows)}")
        if len(set(windows)) != len(windows):
            raise ValueError(f"windows must be distinct, got {list(windows)}")
        return tuple(sorted(windows))

    @field_validator("event_types")
    @classmethod
    def _event_types_have_distinct_slugs(cls, event_types: tuple[str, ...]) -> tuple[str, ...]:
        slugs = [feature_slug(t) for t in event_types]
        if any(not s for s in slugs):
            raise ValueError("an event type needs at least one letter or digit")
        if len(set(slugs)) != len(slugs):
            raise ValueError(f"event types {list(event_types)} collide once turned into column names {slugs}")
        return event_types


class ChurnModelConfig(_Section):
    """LightGBM churn classifier; small trees keep exact SHAP reasons fast."""

    num_leaves: int = Field(default=31, ge=2)
    max_depth: int = Field(default=6, ge=-1)
    learning_rate: float = Field(default=0.05, gt=0, le=1)
    max_rounds: int = Field(default=400, ge=1, description="upper bound; early stopping on the validation snapshot picks fewer")
    early_stopping_rounds: int = Field(default=30, ge=1)
    min_child_samples: int = Field(default=40, ge=1)
    feature_fraction: float = Field(default=0.8, gt=0, le=1)
    bagging_fraction: float = Field(default=0.8, gt=0, le=1)
    lambda_l2: float = Field(default=1.0, ge=0)
    calibration: Literal["isotonic", "sigmoid", "none"] = "isotonic"


class ValueModelConfig(_Section):
    """LightGBM value regressor; Tweedie suits zero-inflated, heavy-tailed spend."""

    objective: Literal["tweedie", "regression"] = "tweedie"
    tweedie_variance_power: float = Field(default=1.3, gt=1, lt=2)
    num_leaves: int = Field(default=31, ge=2)
    max_depth: int = Field(default=6, ge=-1)
    learning_rate: float = Field(default=0.05, gt=0, le=1)
    max_rounds: int = Field(default=600, ge=1)
    early_stopping_rounds: int = Field(default=40, ge=1)
    min_child_samples: int = Field(default=40, ge=1)
    feature_fraction: float = Field(default=0.8, gt=0, le=1)
    bagging_fraction: float = Field(default=0.8, gt=0, le=1)
    lambda_l2: float = Field(default=1.0, ge=0)


class TrainingConfig(_Section):
    """Labels, rolling snapshots and the two models."""

    churn_horizon_days: int = Field(default=90, ge=1, description="lapsed = no purchase in [as_of, as_of + this)")
    value_horizon_days: int = Field(default=365, ge=1, description="value = net spend in [as_of, as_of + this)")
    active_lookback_days: int = Field(
        default=365, ge=1, description="churn rows: customers with a purchase this recently; older ones are already lost"
    )
    snapshot_step_days: int = Field(default=30, ge=1)
    training_snapshots: int = Field(default=6, ge=1, description="how many rolling cutoffs to stack for training")
    min_history_days: int = Field(default=90, ge=0, description="no snapshot earlier than this many days into the data")
    cancellation_event: str | None = Field(
        default=None, description="contractual churn: lapsed = this event type inside the churn horizon"
    )
    seed: int = 7
    tuning_trials: int = Field(
        default=0, ge=0, description="Optuna trials per model, scored on the validation snapshot; 0 keeps the defaults"
    )
    churn_model: ChurnModelConfig = ChurnModelConfig()
    value_model: ValueModelConfig = ValueModelConfig()


class RegistryConfig(_Section):
    """Where runs and models go (MLflow); MLFLOW_TRACKING_URI overrides the store."""

    experiment: str = "tierwise"
    churn_model_name: str = "tierwise-churn"
    value_model_name: str = "tierwise-value"
    auto_promote: bool = Field(
        default=True, description="make a new version champion when it beats the champion's backtest churn ROC AUC"
    )


class TierwiseConfig(_Section):
    """The whole pipeline's settings; see configs/demo.yaml for a commented example."""

    data: DataConfig
    features: FeatureConfig = FeatureConfig()
    training: TrainingConfig = TrainingConfig()
    registry: RegistryConfig = RegistryConfig()

    @model_validator(mode="after")
    def _order_id_grouping_needs_order_ids(self) -> TierwiseConfig:
        if self.features.order_grouping == "order_id" and self.data.transactions.columns.order_id is None:
            raise ValueError("features.order_grouping is 'order_id' but data.transactions.columns.order_id is not set")
        return self

    def with_paths(
        self,
        *,
        transactions: str | Path | None = None,
        events: str | Path | None = None,
        customers: str | Path | None = None,
    ) -> TierwiseConfig:
        """Replace input paths, keeping each source's column mapping and format."""
        data = self.data
        if transactions is not None:
            data = data.model_copy(update={"transactions": data.transactions.model_copy(update={"path": str(transactions)})})
        if events is not None:
            source = data.events or EventsSource(path=str(events))
            data = data.model_copy(update={"events": source.model_copy(update={"path": str(events)})})
        if customers is not None:
            source = data.customers or CustomersSource(path=str(customers))
            data = data.model_copy(update={"customers": source.model_copy(update={"path": str(customers)})})
        return self.model_copy(update={"data": data})


def _apply_override(raw: dict[str, Any], override: str, origin: str) -> None:
    key, sep, value = override.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"{origin}: override {override!r} is not of the form section.key=value")
    node = raw
    parts = key.strip().split(".")
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{origin}: override {override!r}: '{part}' is not a section")
        node = child
    node[parts[-1]] = yaml.safe_load(value)


def config_from_dict(raw: dict[str, Any], *, origin: str = "config", overrides: Sequence[str] = ()) -> TierwiseConfig:
    """Validate a plain mapping (as read from YAML) into a :class:`TierwiseConfig`."""
    for override in overrides:
        _apply_override(raw, override, origin)
    try:
        return TierwiseConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{origin}: {where}: {first['msg']}{more}") from None


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> TierwiseConfig:
    """Read a YAML config; ``overrides`` are dotted ``section.key=value`` strings applied on top."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    return config_from_dict(raw, origin=str(path), overrides=overrides)


def demo_config(data_dir: str | Path) -> TierwiseConfig:
    """The config of configs/demo.yaml with its data read from ``data_dir``."""
    data_dir = Path(data_dir)
    return TierwiseConfig(
        data=DataConfig(
            transactions=TransactionsSource(
                path=str(data_dir / "transactions.parquet"),
                columns=TransactionColumns(order_id="order_id", quantity="quantity", category="category", channel="channel"),
            ),
            events=EventsSource(path=str(data_dir / "events.parquet")),
            customers=CustomersSource(
                path=str(data_dir / "customers.parquet"),
                columns=CustomerColumns(signup_date="signup_date"),
                attributes=("region", "acquisition_channel", "loyalty_member"),
            ),
        )
    )
