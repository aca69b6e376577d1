"""What a model was trained for: the data source, without its file paths or contents.

A model only makes sense on data read the way it was trained on: the same
inputs, column mapping, formats, customer attributes and feature settings.
Newer data from the same source, or the same source under another file name,
keep the signature; anything that changes what a column means changes it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from tierwise.config import TierwiseConfig

SOURCE_PARTS = ("transactions", "events", "customers", "features")


def describe_data_source(config: TierwiseConfig) -> dict[str, Any]:
    """The parts of the config that define the data source, file paths left out.

    Keys: ``transactions``, ``events``, ``customers`` (each the source's
    format, timestamp format, column mapping and, for customers, attributes;
    None when the input is not configured) and ``features`` (the features
    section).

    Parameters
    ----------
    config : TierwiseConfig
        The config.

    Returns
    -------
    dict of str to object
        JSON-serialisable.
    """
    data = config.data
    sources = {"transactions": data.transactions, "events": data.events, "customers": data.customers}
    described: dict[str, Any] = {
        part: None if source is None else source.model_dump(mode="json", exclude={"path", "table"})
        for part, source in sources.items()
    }
    described["features"] = config.features.model_dump(mode="json")
    return described


def data_source_signature(description: dict[str, Any]) -> str:
    """A stable 16-hex-digit hash of :func:`describe_data_source`'s result.

    Parameters
    ----------
    description : dict of str to object
        What :func:`describe_data_source` returned.

    Returns
    -------
    str
        The first 16 hex digits of the sha256 of its sorted JSON.
    """
    text = json.dumps(description, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def data_source_metadata(config: TierwiseConfig) -> dict[str, Any]:
    """The model metadata that ties a model to its data source: data_name, data_source, data_source_signature.

    Parameters
    ----------
    config : TierwiseConfig
        The config the model is trained with.

    Returns
    -------
    dict of str to object
        ``data_name``, ``data_source`` and ``data_source_signature``.
    """
    description = describe_data_source(config)
    return {"data_name": config.data.name, "data_source": description,
            "data_source_signature": data_source_signature(description)}


def _leaves(value: Any, prefix: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        return {prefix: value}
    flat: dict[str, Any] = {}
    for key, inner in value.items():
        flat.update(_leaves(inner, f"{prefix}.{key}"))
    return flat


def _part_differences(part: str, trained: Any, current: Any) -> list[str]:
    if trained is None or current is None:
        where = "the model's data, not here" if current is None else "this config, not the model's data"
        return [f"{part} configured in {where}"]
    old, new = _leaves(trained, part), _leaves(current, part)
    return [
        f"{key} {old.get(key)!r} in the model, {new.get(key)!r} here"
        for key in sorted(old.keys() | new.keys())
        if old.get(key) != new.get(key)
    ]


def data_source_differences(trained: dict[str, Any], current: dict[str, Any], *, limit: int = 3) -> str:
    """Say in one line how two data source descriptions differ ('' when they do not).

    Parameters
    ----------
    trained : dict of str to object
        The description the model was trained with.
    current : dict of str to object
        The description of the config in use.
    limit : int
        How many differences to name before a count of the rest.

    Returns
    -------
    str
        E.g. "transactions.columns.amount: 'amount' vs 'total'".
    """
    differences = [
        line
        for part in [*SOURCE_PARTS, *sorted((trained.keys() | current.keys()) - set(SOURCE_PARTS))]
        for line in _part_differences(part, trained.get(part), current.get(part))
        if trained.get(part) != current.get(part)
    ]
    more = f" (and {len(differences) - limit} more)" if len(differences) > limit else ""
    return "; ".join(differences[:limit]) + more
