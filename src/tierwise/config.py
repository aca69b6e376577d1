"""One typed config for the whole pipeline, loaded from YAML.

Every section is a frozen pydantic model that rejects unknown keys, so a typo
in a YAML file fails at load time with the file and the key in the message,
instead of being silently ignored.
"""

from __future__ import annotations

import datetime as dt
import json
import os
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
DEFAULT_DATA_NAME = "default"


def feature_slug(name: str) -> str:
    """Turn an event type or attribute name into a safe lower-case column stem.

    Parameters
    ----------
    name : str
        An event type or customer attribute name as found in the data, e.g. ``"Page View"``.

    Returns
    -------
    str
        The name with every run of non-identifier characters turned into ``_``, trimmed and
        lower-cased (``"page_view"``), as used in feature column names.

    Examples
    --------
    >>> feature_slug("Page View / Mobile")
    'page_view_mobile'
    """
    return _IDENTIFIER.sub("_", name).strip("_").lower()


def _model_name_slug(name: str) -> str:
    return _IDENTIFIER.sub("-", name).strip("-").lower() or DEFAULT_DATA_NAME


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TransactionColumns(_Section):
    """Names of the transaction columns in the user's file."""

    customer_id: str = "customer_id"
    timestamp: str = "timestamp"
    amount: str | None = Field(
        default="amount",
        description="null for a log without amounts: each line then counts one purchase, the spend features are "
        "left out, and predicted value and value at risk are counted in purchases (export.currency: purchases)",
    )
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
    path: str | None = Field(default=None, description="the input file (CSV, whitespace-separated or Parquet)")
    table: str | None = Field(
        default=None, min_length=1,
        description="a Spark table to read instead of a file (e.g. crm.transactions); only with the Spark engine",
    )
    format: FileFormat | None = Field(
        default=None, description="csv, parquet or whitespace; None infers it from the file suffix"
    )
    timestamp_format: str | None = Field(
        default=None, description="strftime format of the timestamps, e.g. '%Y%m%d'; None parses ISO dates"
    )
    header: bool = Field(
        default=True,
        description="whether a text file's first line names its columns; false: every line is data, and the "
        "columns mapping names the columns by position, column_1, column_2, ...",
    )


    @model_validator(mode="after")
    def _a_file_or_a_table(self) -> _Source:
        if (self.path is None) == (self.table is None):
            raise ValueError("give either path (a file) or table (a Spark table), not both or neither")
        return self


class TransactionsSource(_Source):
    """The transactions file: where it is and which of its columns hold what."""

    columns: TransactionColumns = TransactionColumns()


class EventsSource(_Source):
    """The engagement events file: where it is and which of its columns hold what."""

    columns: EventColumns = EventColumns()


class CustomersSource(_Source):
    """The optional customer table: ids, sign-up dates and the attributes to use as features."""

    columns: CustomerColumns = CustomerColumns()
    attributes: tuple[str, ...] = Field(
        default=(),
        description="customer-table columns to use as static categorical features; none unless listed, because they "
        "are joined with no time: a column such as status or churned_at would leak the outcome into training",
    )


class DataConfig(_Section):
    """The input data: the three sources, the data set's name and the latest date data may carry."""

    name: str | None = Field(
        default=None,
        description="the data set's name, in the default model names; load_config takes the config file's name "
        "(configs/cdnow.yaml: cdnow), None gives 'default'",
    )
    transactions: TransactionsSource
    events: EventsSource | None = None
    customers: CustomersSource | None = None
    max_timestamp: dt.date | None = Field(
        default=None,
        description="the last date a transaction or event may carry; later rows are refused. None: today. Setting it "
        "also keeps transactions that lie far after the rest of the data, which are otherwise refused",
    )


class FeatureConfig(_Section):
    """How the point-in-time features are computed."""

    order_grouping: OrderGrouping = Field(
        default="day",
        description="what counts as one order: all lines of a customer on one day, one order id, or each line",
    )
    spend_windows_days: tuple[int, ...] = (30, 90, 180, 365)
    event_types: tuple[str, ...] = Field(
        default=(), description="event types that become features; needs data.events, which needs at least one type"
    )
    event_windows_days: tuple[int, ...] = (30, 90)
    spend: bool = Field(
        default=True,
        description="whether the spend (monetary, spend and refund) features are made; false, and only false, when "
        "the transactions have no amount column (data.transactions.columns.amount: null), which sets it",
    )

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
    """LightGBM churn classifier.

    Small trees by default: on the demo and CDNOW backtests 15 leaves, depth 4
    and at most 150 rounds rank as well as or better than 31-63 leaves and 400
    rounds, and exact SHAP reasons run 8-40 times faster
    (benchmarks/churn_model_size.py).
    """

    num_leaves: int = Field(default=15, ge=2)
    max_depth: int = Field(default=4, ge=-1)
    learning_rate: float = Field(default=0.05, gt=0, le=1)
    max_rounds: int = Field(default=150, ge=1, description="upper bound; early stopping on the validation snapshot picks fewer")
    early_stopping_rounds: int = Field(default=30, ge=1)
    min_child_samples: int = Field(
        default=40, ge=1, description="rows per leaf at least; capped at 2% of the training rows (but not below 20)"
    )
    feature_fraction: float = Field(default=0.8, gt=0, le=1)
    bagging_fraction: float = Field(default=0.8, gt=0, le=1)
    lambda_l2: float = Field(default=1.0, ge=0)
    refit_on_validation: bool = Field(
        default=False,
        description="once early stopping on the validation snapshot has chosen the rounds, refit on the training and "
        "validation snapshots together, so the newest labels count (calibration keeps the first fit's validation "
        "predictions); lowered the Brier score but also ROC AUC on the CDNOW holdout, so off by default",
    )
    calibration: Literal["sigmoid", "isotonic", "none"] = Field(
        default="sigmoid",
        description="sigmoid (Platt) keeps the model's ranking; isotonic can flatten the top of the list into ties",
    )
    bgnbd_in_calibration: bool = Field(
        default=False,
        description="Platt scaling also weighs BG/NBD's P(no purchase in the churn horizon), fitted on the validation "
        "snapshot: trees predict flat past the oldest and most silent customers in training, BG/NBD keeps going. For "
        "logs too short for training to reach the customers scored: it raised ROC AUC on the CDNOW development cuts, "
        "but not on the 39-week literature holdout, and cost 0.0007 on the full-log CDNOW backtest",
    )

    @model_validator(mode="after")
    def _bgnbd_needs_sigmoid(self) -> ChurnModelConfig:
        if self.bgnbd_in_calibration and self.calibration != "sigmoid":
            raise ValueError("bgnbd_in_calibration needs calibration: sigmoid")
        return self


class ValueModelConfig(_Section):
    """LightGBM value regressor; Tweedie suits zero-inflated, heavy-tailed spend.

    Small trees with many customers per leaf by default: a few big spenders
    otherwise pull whole leaves up and crowd the top of the value ranking. On
    the demo backtest and the CDNOW development split, 15 leaves, depth 4 and
    200 rows per leaf beat 31 leaves, depth 6 and 40 rows on Spearman,
    normalized Gini and top-decile revenue share.
    """

    objective: Literal["tweedie", "regression"] = "tweedie"
    tweedie_variance_power: float = Field(default=1.3, gt=1, lt=2)
    num_leaves: int = Field(default=15, ge=2)
    max_depth: int = Field(default=4, ge=-1)
    learning_rate: float = Field(default=0.05, gt=0, le=1)
    max_rounds: int = Field(default=600, ge=1)
    early_stopping_rounds: int = Field(default=40, ge=1)
    min_child_samples: int = Field(
        default=200, ge=1, description="rows per leaf at least; capped at 2% of the training rows (but not below 20)"
    )
    feature_fraction: float = Field(default=0.8, gt=0, le=1)
    bagging_fraction: float = Field(default=0.8, gt=0, le=1)
    lambda_l2: float = Field(default=1.0, ge=0)
    refit_on_validation: bool = Field(
        default=False,
        description="refit on the training and validation snapshots with the early-stopped rounds; it did not help "
        "the value model on the demo backtest or the CDNOW development split",
    )


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
    max_rows_per_snapshot: int | None = Field(
        default=100_000, ge=1_000,
        description="most rows a snapshot keeps in memory: a larger one is sampled, stratified by label and by one-time "
        "vs repeat buyer (the same share of each); None keeps every row",
    )
    num_threads: int = Field(
        default=0, ge=0, description="LightGBM threads for training; 0: all cores. Never saved into the models"
    )
    tuning_trials: int = Field(
        default=0, ge=0, description="Optuna trials per model, scored on the validation snapshot; 0 keeps the defaults"
    )
    churn_model: ChurnModelConfig = ChurnModelConfig()
    value_model: ValueModelConfig = ValueModelConfig()


class RegistryConfig(_Section):
    """Where runs and models go (MLflow); MLFLOW_TRACKING_URI overrides the store.

    The model names default to ``tierwise-<data name>-churn``,
    ``tierwise-<data name>-value``, ``tierwise-<data name>-retained-value`` and
    ``tierwise-<data name>-scorer``,
    so that data sets trained into one store never share a champion;
    :class:`TierwiseConfig` fills them in.
    """

    experiment: str = "tierwise"
    tracking_uri: str | None = Field(
        default=None,
        description="the MLflow store, e.g. sqlite:///mlruns/mlflow.db (a relative sqlite path is relative to the "
        "config file); None: ./mlruns; the MLFLOW_TRACKING_URI variable and --tracking-uri override it",
    )
    churn_model_name: str | None = Field(default=None, description="None: tierwise-<data.name>-churn")
    value_model_name: str | None = Field(default=None, description="None: tierwise-<data.name>-value")
    retained_value_model_name: str | None = Field(
        default=None, description="None: tierwise-<data.name>-retained-value"
    )
    scorer_model_name: str | None = Field(
        default=None, description="None: tierwise-<data.name>-scorer (the three models and the scoring rules as one pyfunc)"
    )
    auto_promote: bool = Field(
        default=True,
        description="make a new version champion when it beats the champion's backtest churn ROC AUC on the same "
        "data source and test cutoff",
    )

    def for_data(self, data_name: str | None) -> RegistryConfig:
        """Return this section with the model names not set explicitly named after the data set.

        Parameters
        ----------
        data_name : str or None
            The config's ``data.name``; None stands for the default data set name.

        Returns
        -------
        RegistryConfig
            A copy whose unset model names are ``tierwise-<data name>-churn``, ``-value``,
            ``-retained-value`` and ``-scorer``; names set in the config are kept.
        """
        stem = f"tierwise-{_model_name_slug(data_name or DEFAULT_DATA_NAME)}"
        return self.model_copy(update={
            "churn_model_name": self.churn_model_name or f"{stem}-churn",
            "value_model_name": self.value_model_name or f"{stem}-value",
            "retained_value_model_name": self.retained_value_model_name or f"{stem}-retained-value",
            "scorer_model_name": self.scorer_model_name or f"{stem}-scorer",
        })


LIFECYCLES = ("prospect", "new", "active", "lost")
ACTIVITY_CLASSES = ("loyal", "potential", "drifting", "lapsing")
RISK_BANDS = ("high", "medium", "low")
CATEGORICAL_SCORE_FIELDS = ("lifecycle", "value_grade", "risk_band", "activity_class")
UNSPECIFIED_CURRENCY = "unspecified"
#: The unit of value when the transactions have no amounts: each line is one purchase.
PURCHASES_UNIT = "purchases"
SHARE_SCORE_FIELDS = ("churn_probability", "value_percentile")
NUMERIC_SCORE_FIELDS = ("churn_probability", "predicted_value", "retained_value", "value_at_risk", "value_percentile")


class Range(_Section):
    """A numeric condition: min <= value < max (either end may be left open)."""

    min: float | None = None
    max: float | None = None


class TierRule(_Section):
    """One tier: the first rule whose conditions all hold gives a customer its tier and action."""

    tier: str = Field(min_length=1)
    action: str = Field(min_length=1)
    when: dict[str, tuple[str, ...] | Range] = Field(
        default_factory=dict,
        description="field -> allowed values (lifecycle, value_grade, risk_band, activity_class) or a {min, max} range",
    )
    at_risk: bool | None = Field(
        default=None,
        description="whether this tier means the customer is at risk, for the moves the export and report single out; "
        "None: true when the rule only admits activity classes lapsing/drifting or risk band high",
    )


class DriftConfig(_Section):
    """Thresholds of the drift check at scoring (see :mod:`tierwise.monitoring`)."""

    psi_warning: float = Field(
        default=0.1, gt=0, description="a feature's or the churn probability's PSI from this on: a warning (moderate shift)"
    )
    psi_severe: float = Field(default=0.25, gt=0, description="PSI from this on: severe (a large shift)")
    unseen_share_severe: float = Field(
        default=0.05, gt=0, le=1,
        description="this share of the customers scored or more with a categorical level never seen in training: severe",
    )
    missing_rate_change_severe: float = Field(
        default=0.1, gt=0, le=1,
        description="a feature's missing share moved this much or more (as a fraction, up or down) since training: severe",
    )

    @model_validator(mode="after")
    def _ordered(self) -> DriftConfig:
        if self.psi_warning >= self.psi_severe:
            raise ValueError("psi_warning must be below psi_severe")
        return self


class ScoringConfig(_Section):
    """Batch scoring: bands, lifecycle, value grades and reasons."""

    risk_bands: Literal["relative", "absolute"] = Field(
        default="relative",
        description="relative: bands by rank among the customers scored, above the base lapse rate (their mean churn "
        "probability), so they mean the same at 6% and at 80% lapse; absolute: fixed probabilities high_risk_from "
        "and medium_risk_from",
    )
    high_risk_percentile: float = Field(
        default=0.8, gt=0, lt=1, description="relative bands: high above this churn-probability percentile (the top 20%)"
    )
    medium_risk_percentile: float = Field(
        default=0.5, gt=0, lt=1, description="relative bands: medium above this percentile, below the high band"
    )
    high_risk_from: float = Field(default=0.6, gt=0, lt=1, description="absolute bands: high from this churn probability")
    medium_risk_from: float = Field(default=0.3, gt=0, lt=1, description="absolute bands: medium from this one")
    new_customer_days: int = Field(default=30, ge=0, description="first purchase this recent: lifecycle 'new'")
    staleness_limit_days: int = Field(
        default=31, ge=0, description="refuse to score when the last transaction is this much older than as_of"
    )
    reasons_top_n: int | None = Field(
        default=10_000, ge=0, description="write reasons for this many customers at the top of the outreach list; null: all"
    )
    value_grades: dict[str, float] = Field(
        default_factory=lambda: {"VIP": 0.95, "important": 0.80, "ordinary": 0.40, "potential": 0.0},
        description="grade -> lowest predicted-value percentile (0-1) of that grade, highest grade first",
    )
    drifting_spend_trend: float = Field(
        default=-0.3,
        description="spend_trend_90d_vs_prior_90d at or below this marks a customer as drifting when their churn "
        "probability is above the base lapse rate (a dip alone in a safe customer is not drift)"
    )
    loyal_min_orders: int = Field(default=3, ge=1, description="low-risk customers with this many orders are loyal")
    on_feature_loss: Literal["refuse", "warn"] = Field(
        default="refuse",
        description="a feature the models relied on (1% of either model's split gain or more) is missing or constant "
        "across the customers scored: refuse to score, or warn and score anyway",
    )
    drift: DriftConfig = DriftConfig()
    on_severe_drift: Literal["warn", "refuse"] = Field(
        default="warn",
        description="an input or the churn probability drifted past a severe threshold (scoring.drift) since training: "
        "warn and deliver, or refuse to deliver",
    )
    allow_other_source: bool = Field(
        default=False,
        description="score with a model trained for another data source (other inputs, column mapping or feature "
        "settings); refused by default",
    )

    @model_validator(mode="after")
    def _consistent(self) -> ScoringConfig:
        if self.medium_risk_from >= self.high_risk_from:
            raise ValueError("medium_risk_from must be below high_risk_from")
        if self.medium_risk_percentile >= self.high_risk_percentile:
            raise ValueError("medium_risk_percentile must be below high_risk_percentile")
        cutoffs = list(self.value_grades.values())
        if not cutoffs or cutoffs != sorted(cutoffs, reverse=True) or cutoffs[-1] != 0.0:
            raise ValueError("value_grades must go from the highest percentile down to a last grade at 0.0")
        return self


class OutreachConfig(_Section):
    """Who gets contacted: ranking, size limits, the contact budget and the control group.

    ``rank_by``: ``value_at_risk`` (P(lapse) x value if retained, what a contact
    can protect), ``expected_net_saving`` (value at risk x ``save_rate`` minus
    ``cost_per_contact``: the same order, stated as money a contact earns) or
    ``churn_probability`` (most likely to lapse first, whatever they are worth).
    """

    rank_by: Literal["value_at_risk", "expected_net_saving", "churn_probability"] = "value_at_risk"
    top_k: int | None = Field(default=None, ge=1, description="at most this many customers on the list")
    tier_quotas: dict[str, int] = Field(default_factory=dict, description="tier -> at most this many customers")
    cost_per_contact: float | None = Field(
        default=None, ge=0, description="with a cost, customers whose expected saving is below it are left out"
    )
    save_rate: float = Field(
        default=0.1, gt=0, le=1, description="assumed share of would-be lapsers that a contact keeps"
    )
    max_total_cost: float | None = Field(default=None, ge=0, description="stop when the contacts would cost more")
    control_share: float = Field(
        default=0.1, ge=0, lt=1, description="share of the list held out of contact to measure the outreach's effect"
    )
    control_salt: str = Field(default="tierwise", description="changes which customers are drawn as control")

    @model_validator(mode="after")
    def _total_needs_unit_cost(self) -> OutreachConfig:
        if self.max_total_cost is not None and not self.cost_per_contact:
            raise ValueError("max_total_cost needs a positive cost_per_contact")
        return self


class ExportConfig(_Section):
    """The CRM export and the optional database table that holds each as_of's list."""

    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL, e.g. sqlite:///crm.db or postgresql+psycopg://user@host/db"
    )
    table: str = Field(
        default="tierwise_outreach", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="the customers to contact; the control customers go to <table>_control",
    )
    currency: str = Field(
        default=UNSPECIFIED_CURRENCY, min_length=1,
        description="the currency of the amounts in the data (e.g. EUR), stated in the export's manifest",
    )


class SparkConfig(_Section):
    """Where ``--engine spark`` runs: the master and any Spark settings, passed to the session as given."""

    master: str = Field(
        default="local[*]", min_length=1,
        description="spark.master: local[*] (this machine, all cores), spark://host:7077, yarn, k8s://...",
    )
    app_name: str = Field(default="tierwise", min_length=1, description="the application name the cluster shows")
    settings: dict[str, str] = Field(
        default_factory=dict,
        description="Spark settings, e.g. spark.driver.memory: 4g, spark.sql.shuffle.partitions: '200'; "
        "spark.sql.session.timeZone is always UTC (timestamps are read as UTC, as the DuckDB engine does)",
    )

    @field_validator("settings")
    @classmethod
    def _spark_keys(cls, settings: dict[str, str]) -> dict[str, str]:
        for key in settings:
            if not key.startswith("spark."):
                raise ValueError(f"{key!r} is not a Spark setting (they start with 'spark.')")
            if key in ("spark.master", "spark.app.name"):
                raise ValueError(f"{key!r}: set spark.{'master' if key == 'spark.master' else 'app_name'} instead")
            if key == "spark.sql.session.timeZone":
                raise ValueError("spark.sql.session.timeZone: tierwise runs its Spark queries in UTC; it cannot be set")
        return settings


class EvaluationConfig(_Section):
    """How ``tierwise evaluate`` judges a past run: windows, interval level, and when a group is too small to tell."""

    conversion_window_days: int = Field(
        default=30, ge=1, description="conversion = any purchase in [as_of, as_of + this), capped at what has matured"
    )
    confidence_level: float = Field(default=0.95, gt=0.5, lt=1, description="of every interval in evaluation.json")
    min_group_size: int = Field(
        default=50, ge=2,
        description="fewer contacted or control customers than this in a group: 'not enough customers to tell'",
    )
    power: float = Field(
        default=0.8, gt=0.5, lt=1, description="the power of the smallest detectable retention effect reported"
    )


def default_tiers() -> tuple[TierRule, ...]:
    """The segmentation marketers know, on predicted values: value grade x loyal/potential/drifting/lapsing.

    Returns
    -------
    tuple of TierRule
        The rules in priority order, the first matching rule naming a customer's tier.
    """
    rule = TierRule.model_validate
    return (
        rule({"tier": "lost", "when": {"lifecycle": ["lost"]},
              "action": "Low-cost win-back mailing; stop regular campaigns"}),
        rule({"tier": "prospect", "when": {"lifecycle": ["prospect"]},
              "action": "Conversion offer: a first-purchase discount or a trial"}),
        rule({"tier": "new customer", "when": {"lifecycle": ["new"]},
              "action": "Welcome series and a second-purchase offer"}),
        rule({"tier": "VIP at risk", "when": {"value_grade": ["VIP"], "activity_class": ["lapsing", "drifting"]},
              "action": "Personal call from the account manager"}),
        rule({"tier": "VIP", "when": {"value_grade": ["VIP"]},
              "action": "VIP care: early access and a personal thank-you"}),
        rule({"tier": "important, lapsing", "when": {"value_grade": ["important"], "activity_class": ["lapsing"]},
              "action": "Win-back call or survey with a personal offer"}),
        rule({"tier": "lapsing", "when": {"activity_class": ["lapsing"]},
              "action": "Win-back survey with an offer"}),
        rule({"tier": "drifting", "when": {"activity_class": ["drifting"]},
              "action": "Limited-time offer"}),
        rule({"tier": "loyal", "when": {"activity_class": ["loyal"]},
              "action": "Loyalty rewards and a referral invitation"}),
        rule({"tier": "potential", "action": "Conversion offer: a trial of a new category"}),
    )


class TierwiseConfig(_Section):
    """The whole pipeline's settings; see configs/demo.yaml for a commented example."""

    data: DataConfig
    features: FeatureConfig = FeatureConfig()
    training: TrainingConfig = TrainingConfig()
    registry: RegistryConfig = RegistryConfig()
    scoring: ScoringConfig = ScoringConfig()
    tiers: tuple[TierRule, ...] = Field(default_factory=default_tiers)
    outreach: OutreachConfig = OutreachConfig()
    export: ExportConfig = ExportConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    spark: SparkConfig = SparkConfig()

    @model_validator(mode="before")
    @classmethod
    def _count_purchases_without_amounts(cls, raw: Any) -> Any:
        """Without an amount column: no spend features, and value in purchases, unless the config says otherwise."""
        if not isinstance(raw, dict) or not _amount_column_is_null(raw.get("data")):
            return raw
        features, export = raw.get("features", {}), raw.get("export", {})
        if not isinstance(features, dict) or not isinstance(export, dict):
            return raw
        return {**raw, "features": {"spend": False, **features}, "export": {"currency": PURCHASES_UNIT, **export}}

    @model_validator(mode="after")
    def _without_amounts_nothing_is_money(self) -> TierwiseConfig:
        has_amounts = self.data.transactions.columns.amount is not None
        if self.features.spend != has_amounts:
            raise ValueError(
                "features.spend must be true exactly when the transactions have an amount column "
                f"(data.transactions.columns.amount is {'set' if has_amounts else 'null'}, features.spend is "
                f"{str(self.features.spend).lower()})"
            )
        if has_amounts:
            return self
        if self.export.currency != PURCHASES_UNIT:
            raise ValueError(f"export.currency is '{self.export.currency}', but without amounts "
                             f"(data.transactions.columns.amount: null) value is counted in {PURCHASES_UNIT}")
        money = [name for name, value in (("outreach.cost_per_contact", self.outreach.cost_per_contact),
                                          ("outreach.max_total_cost", self.outreach.max_total_cost)) if value is not None]
        if self.outreach.rank_by == "expected_net_saving":
            money.append("outreach.rank_by: expected_net_saving")
        if money:
            raise ValueError(f"{', '.join(money)} weigh money against value, but without amounts "
                             f"(data.transactions.columns.amount: null) value is counted in {PURCHASES_UNIT}")
        return self

    @model_validator(mode="before")
    @classmethod
    def _name_models_after_the_data(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            return raw
        data = raw.get("data")
        data_name = data.get("name") if isinstance(data, dict) else getattr(data, "name", None)
        registry = raw.get("registry", RegistryConfig())
        if isinstance(registry, RegistryConfig):
            return {**raw, "registry": registry.for_data(data_name)}
        if not isinstance(registry, dict):
            return raw
        named = RegistryConfig().for_data(data_name if isinstance(data_name, str) else None)
        return {**raw, "registry": {
            **registry,
            "churn_model_name": registry.get("churn_model_name") or named.churn_model_name,
            "value_model_name": registry.get("value_model_name") or named.value_model_name,
            "retained_value_model_name": registry.get("retained_value_model_name") or named.retained_value_model_name,
            "scorer_model_name": registry.get("scorer_model_name") or named.scorer_model_name,
        }}

    @model_validator(mode="after")
    def _tiers_cover_everyone_and_name_known_fields(self) -> TierwiseConfig:
        from tierwise.features._catalog import feature_catalog

        if not self.tiers or self.tiers[-1].when:
            raise ValueError("the last tier rule must have no 'when', so that every customer gets a tier")
        names = [rule.tier for rule in self.tiers]
        if len(set(names)) != len(names):
            raise ValueError(f"tier names must be distinct, got {names}")
        allowed_values = {
            "lifecycle": LIFECYCLES, "activity_class": ACTIVITY_CLASSES, "risk_band": RISK_BANDS,
            "value_grade": tuple(self.scoring.value_grades),
        }
        numeric = set(NUMERIC_SCORE_FIELDS) | {spec.name for spec in feature_catalog(self.features)}
        for index, rule in enumerate(self.tiers):
            for field_name, condition in rule.when.items():
                where = f"tier rule {index + 1} ('{rule.tier}'): field '{field_name}'"
                if field_name in allowed_values:
                    if isinstance(condition, Range):
                        raise ValueError(f"{where} takes a list of values, not a range")
                    unknown = [v for v in condition if v not in allowed_values[field_name]]
                    if unknown:
                        raise ValueError(f"{where}: unknown value {unknown[0]!r}; known: {list(allowed_values[field_name])}")
                elif field_name in numeric or field_name.startswith("attr_"):
                    if not isinstance(condition, Range) and not field_name.startswith("attr_"):
                        raise ValueError(f"{where} is numeric: use {{min: ..., max: ...}}")
                    if field_name in SHARE_SCORE_FIELDS and isinstance(condition, Range):
                        outside = [end for end in (condition.min, condition.max) if end is not None and not 0 <= end <= 1]
                        if outside:
                            raise ValueError(f"{where} is a share from 0 to 1; {outside[0]:g} would match "
                                             f"{'no one' if outside[0] > 1 else 'everyone'} (write 0.6 for 60%)")
                else:
                    raise ValueError(f"{where} is not a score field or a feature")
        unknown_quota = [tier for tier in self.outreach.tier_quotas if tier not in names]
        if unknown_quota:
            raise ValueError(f"outreach.tier_quotas: no tier is named {unknown_quota[0]!r}; tiers: {names}")
        return self

    @model_validator(mode="after")
    def _event_types_and_events_source_come_together(self) -> TierwiseConfig:
        event_types = self.features.event_types
        if event_types and self.data.events is None:
            raise ValueError(
                f"features.event_types lists {', '.join(event_types)} but data.events is not set: "
                "add an events source or set event_types: []"
            )
        if not event_types and self.data.events is not None:
            raise ValueError(
                "data.events is set but features.event_types is empty, so its events would feed no feature: "
                "list the event types to use, e.g. event_types: [visit, email_open]"
            )
        return self

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
        """Replace input paths, keeping each source's column mapping and format; the result is validated again.

        Parameters
        ----------
        transactions, events, customers : str or path, optional
            The new file of that source; None keeps the configured one.

        Returns
        -------
        TierwiseConfig
            A new, validated config (this one is frozen and left unchanged).

        Raises
        ------
        ConfigError
            When the changed config no longer validates.
        """
        overrides = path_overrides(transactions=transactions, events=events, customers=customers)
        return config_from_dict(self.model_dump(mode="json"), overrides=overrides)


def _amount_column_is_null(data: Any) -> bool:
    """Whether a raw data section names its transactions' amount column as null."""
    transactions = data.get("transactions") if isinstance(data, dict) else getattr(data, "transactions", None)
    if isinstance(transactions, TransactionsSource):
        return transactions.columns.amount is None
    columns = transactions.get("columns") if isinstance(transactions, dict) else None
    if isinstance(columns, TransactionColumns):
        return columns.amount is None
    return isinstance(columns, dict) and "amount" in columns and columns["amount"] is None


def path_overrides(
    *, transactions: str | Path | None = None, events: str | Path | None = None, customers: str | Path | None = None
) -> list[str]:
    """Dotted overrides (``data.events.path=...``) that point the given sources at other files.

    Parameters
    ----------
    transactions, events, customers : str or path, optional
        The file to point that source at; None leaves the source out.

    Returns
    -------
    list of str
        One ``data.<source>.path=<json string>`` override per given path, for
        :func:`load_config` or ``--set``.

    Examples
    --------
    >>> path_overrides(events="clicks.parquet")
    ['data.events.path="clicks.parquet"']
    """
    paths = {"transactions": transactions, "events": events, "customers": customers}
    # JSON strings are valid YAML scalars, so any path survives the override's YAML parsing unchanged.
    return [f"data.{source}.path={json.dumps(str(path))}" for source, path in paths.items() if path is not None]


def _apply_override(raw: dict[str, Any], override: str, origin: str) -> None:
    key, sep, value = override.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"{origin}: override {override!r} is not of the form section.key=value")
    node = raw
    parts = key.strip().split(".")
    for part in parts[:-1]:
        if node.get(part) is None:  # an absent section, or one dumped as null
            node[part] = {}
        child = node[part]
        if not isinstance(child, dict):
            raise ConfigError(f"{origin}: override {override!r}: '{part}' is not a section")
        node = child
    node[parts[-1]] = yaml.safe_load(value)


def config_from_dict(raw: dict[str, Any], *, origin: str = "config", overrides: Sequence[str] = ()) -> TierwiseConfig:
    """Validate a plain mapping (as read from YAML) into a :class:`TierwiseConfig`.

    Parameters
    ----------
    raw : dict
        The sections, as YAML gives them; overrides are applied to it in place.
    origin : str
        What to name in errors (the file the mapping came from).
    overrides : sequence of str
        Dotted ``section.key=value`` strings applied before validating.

    Returns
    -------
    TierwiseConfig
        The validated settings.

    Raises
    ------
    ConfigError
        One line naming ``origin``, the first bad key and how many more
        problems there are.

    Examples
    --------
    >>> config_from_dict({"data": {"transactions": {"path": "tx.csv"}}}).features.order_grouping
    'day'
    """
    for override in overrides:
        _apply_override(raw, override, origin)
    try:
        return TierwiseConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        where = f"{key}: " if key else ""  # checks across sections name their keys in the message
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        message = first["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{origin}: {where}{message}{more}") from None


def load_config(path: str | os.PathLike, overrides: Sequence[str] = ()) -> TierwiseConfig:
    """Read a YAML config file into a validated :class:`TierwiseConfig`.

    Relative input paths (and a relative ``sqlite:///`` store) are read from
    the config file's folder, so a job may run from anywhere; ``data.name``
    defaults to the file's name (``configs/cdnow.yaml``: ``cdnow``), which
    names the registered models.

    Parameters
    ----------
    path : str or os.PathLike
        The YAML file.
    overrides : sequence of str
        Dotted ``section.key=value`` strings applied on top, the value read as
        YAML (``training.max_rows_per_snapshot=null``), as ``--set`` does.

    Returns
    -------
    TierwiseConfig
        The whole pipeline's settings, frozen.

    Raises
    ------
    ConfigError
        For a missing or unreadable file, invalid YAML, an unknown key or a
        bad value: one line naming the file and the key.

    Examples
    --------
    >>> config = load_config("configs/demo.yaml", ["training.training_snapshots=2"])  # doctest: +SKIP
    >>> config.data.name  # doctest: +SKIP
    'demo'
    """
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
    if isinstance(raw.get("data"), dict):
        raw["data"].setdefault("name", path.stem)
    _resolve_relative_paths(raw, path.parent)
    return config_from_dict(raw, origin=str(path), overrides=overrides)


def _resolve_relative_paths(raw: dict[str, Any], folder: Path) -> None:
    """Make the config file's relative input paths and SQLite store path relative to ``folder``, its folder.

    A job run from another working directory then reads the same files. Paths
    given as overrides (``--set``, ``--transactions``) stay relative to the
    working directory, where the user typed them.
    """
    base = folder.resolve()
    data = raw.get("data")
    if isinstance(data, dict):
        for source in ("transactions", "events", "customers"):
            entry = data.get(source)
            if isinstance(entry, dict) and isinstance(entry.get("path"), str):
                entry["path"] = _relative_to(entry["path"], base)
    registry = raw.get("registry")
    if isinstance(registry, dict) and isinstance(registry.get("tracking_uri"), str):
        uri = registry["tracking_uri"]
        database = uri.removeprefix("sqlite:///")
        if uri.startswith("sqlite:///") and database and not database.startswith("/") and database != ":memory:":
            registry["tracking_uri"] = f"sqlite:///{os.path.normpath(base / database)}"


def _relative_to(path: str, base: Path) -> str:
    if path.startswith("tierwise:") or Path(path).is_absolute():
        return path
    return os.path.normpath(base / path)


def demo_config(data_dir: str | Path) -> TierwiseConfig:
    """The config of configs/demo.yaml with its data read from ``data_dir``.

    Parameters
    ----------
    data_dir : str or Path
        A folder written by ``tierwise generate`` (or
        :func:`tierwise.io.write_demo_data`) in Parquet.

    Returns
    -------
    TierwiseConfig
        The demo's settings: transactions, events and a customer table with
        their attributes, data set name ``demo``.
    """
    data_dir = Path(data_dir)
    return TierwiseConfig(
        data=DataConfig(
            name="demo",
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
        ),
        features=FeatureConfig(
            event_types=("visit", "email_open", "email_click", "complaint", "return", "support_ticket")
        ),
    )


def cdnow_config(overrides: Sequence[str] = ()) -> TierwiseConfig:
    """The config of the CDNOW benchmark (configs/cdnow.yaml as shipped in the package), so ``tierwise benchmark cdnow`` runs anywhere.

    Parameters
    ----------
    overrides : sequence of str
        ``section.key=value`` strings applied on top, as ``--set`` does.

    Returns
    -------
    TierwiseConfig
        The validated config, its ``data.name`` ``cdnow`` unless set.

    Raises
    ------
    ConfigError
        When an override is invalid.
    """
    from importlib import resources

    text = resources.files("tierwise").joinpath("data/cdnow/cdnow.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    raw["data"].setdefault("name", "cdnow")
    return config_from_dict(raw, origin="tierwise:data/cdnow/cdnow.yaml", overrides=overrides)
