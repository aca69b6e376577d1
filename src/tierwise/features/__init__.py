"""Point-in-time customer features: everything strictly before ``as_of``."""

from tierwise.features._build import (
    attribute_columns,
    build_features,
    check_customers_known,
    describe_features,
    feature_sql,
    no_customer_before,
    normalize_as_of,
)
from tierwise.features._catalog import FeatureSpec
from tierwise.input_sql import quote_identifier, quote_literal

__all__ = [
    "FeatureSpec",
    "attribute_columns",
    "build_features",
    "check_customers_known",
    "describe_features",
    "feature_sql",
    "no_customer_before",
    "normalize_as_of",
    "quote_identifier",
    "quote_literal",
]
