"""Every feature's definition: its SQL, description and unit, kept together.

The SQL of each feature is an expression over the per-customer aggregates of
:mod:`tierwise.features._build`; explanations for marketers are written from
the description and unit, so they stay in step with the computation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from tierwise.config import FeatureConfig, feature_slug
from tierwise.input_sql import quote_identifier

DAY_SECONDS = 86_400
SLOPE_PERIODS = 12
SLOPE_PERIOD_DAYS = 30


@dataclass(frozen=True)
class FeatureSpec:
    """One output column: how it is computed and how to say it in words.

    Attributes
    ----------
    name : str
        The column name.
    sql : str
        Its expression over the query's aggregates.
    description : str
        What it measures, in words (reasons and the features' MLflow artifact).
    unit : str
        Its unit (``days``, ``currency``, ``orders``, ...).
    kind : {"numeric", "categorical"}
        Categorical for customer attributes.
    family : str
        The group it belongs to (``recency``, ``monetary``, an event type, ...).
    """

    name: str
    sql: str
    description: str
    unit: str
    kind: Literal["numeric", "categorical"] = "numeric"
    family: str = ""



def divide(numerator: str, denominator: str) -> str:
    """``numerator / denominator`` in DOUBLE, whatever the operand types.

    Every division goes through here: DuckDB turns a DECIMAL division into
    DOUBLE, but Spark keeps it in DECIMAL and rounds to a few digits, so the
    same query gave other values on Spark. Dividing DOUBLEs gives the same
    correctly rounded result on both engines.

    Parameters
    ----------
    numerator, denominator : str
        SQL expressions.

    Returns
    -------
    str
        The SQL expression of the quotient, NULL when the denominator is 0.
    """
    return f"CAST({numerator} AS DOUBLE) / CAST({denominator} AS DOUBLE)"


def _in_days(seconds: str) -> str:
    return divide(seconds, str(DAY_SECONDS))


_TENURE_DAYS = _in_days("GREATEST(o.first_order_age_s, c.signup_age_s)")

# Gap statistics from exact integer sums (seconds), so they do not depend on summation order.
_GAP_MEAN_S = divide("o.gap_sum_s", "NULLIF(o.gaps, 0)")
_GAP_STD_S = (
    "SQRT(" + divide("o.gaps * o.gap_square_sum_s - CAST(o.gap_sum_s AS DECIMAL(38, 0)) * o.gap_sum_s",
                     "NULLIF(o.gaps * (o.gaps - 1), 0)") + ")"
)


def _relative_change(recent: str, prior: str) -> str:
    return divide(f"{recent} - {prior}", f"NULLIF({prior}, 0)")


#: The families of transaction features made from amounts, left out when the transactions have none.
SPEND_FAMILIES = frozenset({"monetary", "spend", "refund"})


def transaction_features(config: FeatureConfig) -> list[FeatureSpec]:
    """The features of the transaction log; ``o`` are order aggregates, ``l`` line aggregates.

    Parameters
    ----------
    config : FeatureConfig
        The windows (``windows_days``) and the order grouping.

    Returns
    -------
    list of FeatureSpec
        Recency, frequency, monetary, trend and basket columns, e.g. ``spend_sum_90d``.
    """
    specs = [
        FeatureSpec("recency_days", _in_days("o.last_order_age_s"),
                    "days since the last purchase", "days", family="recency"),
        FeatureSpec("frequency_orders", "COALESCE(o.orders, 0)",
                    "number of orders before the cutoff", "orders", family="frequency"),
        FeatureSpec("monetary_total", "COALESCE(o.order_value_sum, 0)",
                    "total value of all orders (before refunds)", "currency", family="monetary"),
        FeatureSpec("monetary_mean_order", "o.order_value_mean",
                    "average order value", "currency", family="monetary"),
        FeatureSpec("monetary_max_order", "o.order_value_max",
                    "largest single order", "currency", family="monetary"),
        FeatureSpec("net_spend_total", "COALESCE(l.net_spend, 0)",
                    "total spend net of refunds and returns", "currency", family="monetary"),
        FeatureSpec("tenure_days", _TENURE_DAYS,
                    "days since the first purchase or signup, whichever came first", "days", family="tenure"),
        FeatureSpec("frequency_orders_per_30d", divide("30 * COALESCE(o.orders, 0)", f"NULLIF({_TENURE_DAYS}, 0)"),
                    "orders per 30 days since the first purchase or signup (comparable across customer ages)",
                    "orders per 30 days", family="frequency"),
        FeatureSpec("monetary_per_30d", divide("30 * COALESCE(o.order_value_sum, 0)", f"NULLIF({_TENURE_DAYS}, 0)"),
                    "order value per 30 days since the first purchase or signup (comparable across customer ages)",
                    "currency per 30 days", family="monetary"),
        FeatureSpec("rhythm_gap_mean_days", _in_days(_GAP_MEAN_S),
                    "average days between orders", "days", family="rhythm"),
        FeatureSpec("rhythm_gap_std_days", _in_days(_GAP_STD_S),
                    "spread (standard deviation) of the days between orders", "days", family="rhythm"),
        FeatureSpec("rhythm_recency_ratio", divide("o.last_order_age_s", f"NULLIF({_GAP_MEAN_S}, 0)"),
                    "days since the last purchase divided by the customer's usual days between orders",
                    "ratio", family="rhythm"),
        FeatureSpec("refund_share", divide("l.refunds", "NULLIF(l.purchases, 0)"),
                    "share of purchase value refunded or returned", "share", family="refund"),
        FeatureSpec("refund_count", "COALESCE(l.refund_lines, 0)",
                    "number of refund or return lines", "lines", family="refund"),
        FeatureSpec("spend_slope_30d_periods",
                    divide("COALESCE(l.slope_moment, 0)", str(_slope_denominator())),
                    f"trend of purchase value over the last {SLOPE_PERIODS} periods of {SLOPE_PERIOD_DAYS} days "
                    "(least-squares slope; negative means falling spend)",
                    "currency per period", family="spend"),
    ]
    for w in config.spend_windows_days:
        specs += [
            FeatureSpec(f"spend_sum_{w}d", f"COALESCE(l.spend_{w}d, 0)",
                        f"purchase value in the last {w} days", "currency", family="spend"),
            FeatureSpec(f"orders_count_{w}d", f"COALESCE(o.orders_{w}d, 0)",
                        f"orders in the last {w} days", "orders", family="frequency"),
            FeatureSpec(f"spend_trend_{w}d_vs_prior_{w}d",
                        _relative_change(f"COALESCE(l.spend_{w}d, 0)", f"COALESCE(l.spend_prior_{w}d, 0)"),
                        f"change of purchase value in the last {w} days against the {w} days before "
                        "(-0.7 means 70% less)", "relative change", family="spend"),
        ]
    return specs


def _slope_denominator() -> float:
    n = SLOPE_PERIODS
    return sum((x - (n - 1) / 2) ** 2 for x in range(n))


def event_features(config: FeatureConfig) -> list[FeatureSpec]:
    """Engagement features per configured event type; ``e`` are event aggregates.

    Parameters
    ----------
    config : FeatureConfig
        The event types and windows.

    Returns
    -------
    list of FeatureSpec
        Per event type, counts per window and days since the last one, e.g. ``visit_count_30d``.
    """
    specs = []
    for event_type in config.event_types:
        slug = feature_slug(event_type)
        label = event_type.replace("_", " ")
        specs.append(
            FeatureSpec(f"{slug}_days_since_last", _in_days(f"e.{slug}_last_age_s"),
                        f"days since the last {label} event", "days", family=slug)
        )
        for w in config.event_windows_days:
            recent, prior = f"COALESCE(e.{slug}_{w}d, 0)", f"COALESCE(e.{slug}_prior_{w}d, 0)"
            specs += [
                FeatureSpec(f"{slug}_count_{w}d", recent,
                            f"{label} events in the last {w} days", "events", family=slug),
                FeatureSpec(f"{slug}_trend_{w}d_vs_prior_{w}d", _relative_change(recent, prior),
                            f"change of {label} events in the last {w} days against the {w} days before "
                            "(-0.7 means 70% fewer)", "relative change", family=slug),
            ]
    return specs


def attribute_features(attribute_columns: list[str]) -> list[FeatureSpec]:
    """Static customer attributes, used as categorical features.

    Parameters
    ----------
    attribute_columns : list of str
        The canonical customers table's ``attr_*`` columns.

    Returns
    -------
    list of FeatureSpec
        One categorical feature per attribute.
    """
    return [
        FeatureSpec(column, f"c.{quote_identifier(column)}",
                    f"customer attribute '{column.removeprefix('attr_')}'", "category",
                    kind="categorical", family="attribute")
        for column in attribute_columns
    ]


def feature_catalog(config: FeatureConfig, attribute_columns: Sequence[str] = ()) -> list[FeatureSpec]:
    """All features built for this config, in output column order.

    Parameters
    ----------
    config : FeatureConfig
        The windows, event types and order grouping.
    attribute_columns : sequence of str
        The customers table's ``attr_*`` columns; empty without a customer table.

    Returns
    -------
    list of FeatureSpec
        The transaction, event and attribute features, in the order :func:`tierwise.features.build_features` returns
        them.
    """
    transactions = transaction_features(config)
    if not config.spend:  # no amounts: spend, its trends and refunds would be counts of lines or constants
        transactions = [spec for spec in transactions if spec.family not in SPEND_FAMILIES]
    return transactions + event_features(config) + attribute_features(list(attribute_columns))
