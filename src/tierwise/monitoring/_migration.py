"""Tier migration: each run against the previous run, who changed tier, and who just moved into an at-risk tier.

The previous run of a scoring run at ``as_of`` is, in this order of search:
an explicit ``--previous`` folder; else the latest run strictly before
``as_of`` among the sibling folders of ``--out`` (``--out`` itself never
counts, so a rerun of a folder gives the same files); else, with
``export.database_url`` set, the latest earlier ``as_of`` of the
``<table>_tiers`` table. A run counts only when its manifest says it scored
the same data set (data name and source signature) with the same tier
configuration (tier rules and the scoring settings that decide them); any
other is skipped, or refused when named explicitly.

``tier_since`` is the as_of of the run in which the customer entered their
current tier, so the real change happened between the previous run's as_of
and that date. It is carried over while the tier stays the same, set to
this run's as_of when the tier changed or the customer is new to the run,
and null (unknown) when there is no previous run or the previous run did not
know it either: then the customer has held the tier at least since the
first run of the chain, and no run says since when.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tierwise.config import TierRule, TierwiseConfig
from tierwise.errors import TierwiseError
from tierwise.io import read_run_manifest, read_run_tiers, read_tiers_before

AT_RISK_ACTIVITY_CLASSES = frozenset({"lapsing", "drifting"})
AT_RISK_BANDS = frozenset({"high"})
# The scoring settings that decide which tier a customer lands in, besides the rules themselves.
_TIER_SETTINGS = ("risk_bands", "high_risk_percentile", "medium_risk_percentile", "high_risk_from", "medium_risk_from",
                  "new_customer_days", "value_grades", "drifting_spend_trend", "loyal_min_orders")
MOVERS_COLUMNS = [
    "customer_id", "as_of", "previous_tier", "tier", "tier_since", "tier_action", "churn_probability",
    "value_at_risk", "predicted_value", "on_list", "control", "list_position", "reason_1", "reason_2", "reason_3",
]
NEW_TO_RUN = "new / not seen before"


def rule_is_at_risk(rule: TierRule) -> bool:
    """The rule's ``at_risk``; when unset, true when it only admits lapsing/drifting customers or the high risk band.

    Parameters
    ----------
    rule : TierRule
        A tier rule.

    Returns
    -------
    bool
        Whether the rule's tier is at risk.
    """
    if rule.at_risk is not None:
        return rule.at_risk
    activity, band = rule.when.get("activity_class"), rule.when.get("risk_band")
    return ((isinstance(activity, tuple) and set(activity) <= AT_RISK_ACTIVITY_CLASSES)
            or (isinstance(band, tuple) and set(band) <= AT_RISK_BANDS))


def at_risk_tiers(rules: tuple[TierRule, ...]) -> list[str]:
    """The names of the at-risk tiers (see :func:`rule_is_at_risk`), in rule order.

    Parameters
    ----------
    rules : tuple of TierRule
        The tier rules.

    Returns
    -------
    list of str
        The at-risk tier names.
    """
    return [rule.tier for rule in rules if rule_is_at_risk(rule)]


def tier_rules_signature(config: TierwiseConfig) -> str:
    """A 16-hex-digit hash of what decides a customer's tier: the rules' names and conditions, and the bands and grades.

    Actions and ``at_risk`` are left out: rewording a playbook moves nobody.

    Parameters
    ----------
    config : TierwiseConfig
        Its ``tiers`` and ``scoring`` sections.

    Returns
    -------
    str
        16 hex digits.
    """
    rules = [{"tier": rule.tier, "when": {k: v if isinstance(v, tuple) else v.model_dump() for k, v in rule.when.items()}}
             for rule in config.tiers]
    settings = config.scoring.model_dump(mode="json", include=set(_TIER_SETTINGS))
    text = json.dumps({"rules": rules, "scoring": settings}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def run_identity(config: TierwiseConfig) -> dict[str, object]:
    """The manifest keys that say which data set and tier configuration a run scored, and which tiers are at risk.

    Parameters
    ----------
    config : TierwiseConfig
        The run's config.

    Returns
    -------
    dict of str to object
        ``data_name``, ``data_source_signature``, ``tiers``, ``tier_rules_signature`` and ``at_risk_tiers``.
    """
    from tierwise.training import data_source_signature, describe_data_source  # the report needs no training code

    return {
        "data_name": config.data.name,
        "data_source_signature": data_source_signature(describe_data_source(config)),
        "tiers": [rule.tier for rule in config.tiers],
        "tier_rules_signature": tier_rules_signature(config),
        "at_risk_tiers": at_risk_tiers(config.tiers),
    }


@dataclass(frozen=True)
class PreviousRun:
    """The run a scoring run is compared with.

    ``as_of``: its cutoff; ``source``: where it was found, in words (a folder
    or a database table); ``tiers``: its customers' ``customer_id``, ``tier``
    and ``tier_since``.

    Attributes
    ----------
    as_of : pandas.Timestamp
        Its cutoff.
    source : str
        Where it was found, in words (a folder or a database table).
    tiers : pandas.DataFrame
        Its customers' ``customer_id``, ``tier`` and ``tier_since``.
    """

    as_of: pd.Timestamp
    source: str
    tiers: pd.DataFrame

    def manifest_entry(self, scores: pd.DataFrame) -> dict[str, object]:
        """What the new run's manifest says about this run: as_of, source, its customers and how many are gone now.

        Parameters
        ----------
        scores : pandas.DataFrame
            The new run's scores.

        Returns
        -------
        dict of str to object
            ``as_of``, ``source``, ``customers`` and ``customers_not_scored_now``.
        """
        gone = ~self.tiers["customer_id"].isin(scores["customer_id"])
        return {"as_of": self.as_of.date().isoformat(), "source": self.source, "customers": len(self.tiers),
                "customers_not_scored_now": int(gone.sum())}


@dataclass(frozen=True)
class PreviousRunSearch:
    """The previous run found (None when there is none) and one line saying which was used, or why none.

    Attributes
    ----------
    run : PreviousRun or None
        The previous run.
    note : str
        Which run was used, or why none, in one line.
    """

    run: PreviousRun | None
    note: str


def _mismatch(manifest: dict, identity: dict[str, object]) -> str | None:
    """Why a run cannot serve as the previous run of a run with ``identity``; None when it can."""
    if "data_source_signature" not in manifest:
        return "it does not record its data set (scored by an older tierwise)"
    if (manifest.get("data_name"), manifest["data_source_signature"]) != (
            identity["data_name"], identity["data_source_signature"]):
        return (f"it scored another data set ({manifest.get('data_name')!r}, source "
                f"{manifest['data_source_signature']}; this run: {identity['data_name']!r}, "
                f"{identity['data_source_signature']})")
    if manifest.get("tier_rules_signature") != identity["tier_rules_signature"]:
        return "its tier configuration differs (tier rules, risk bands or value grades)"
    return None


def _explicit_previous(folder: Path, *, as_of: pd.Timestamp, identity: dict[str, object]) -> PreviousRunSearch:
    manifest = read_run_manifest(folder) if folder.is_dir() else None
    if manifest is None:
        raise TierwiseError(f"--previous: {folder} is not a tierwise run (no manifest.json of a tierwise score --out)")
    previous_as_of = pd.Timestamp(manifest["as_of"])
    if previous_as_of >= as_of:
        raise TierwiseError(f"--previous: {folder} is as of {previous_as_of.date()}, not before this run's as_of "
                            f"{as_of.date()}")
    reason = _mismatch(manifest, identity)
    if reason is not None:
        raise TierwiseError(f"--previous: {folder} cannot be compared with this run: {reason}")
    run = PreviousRun(previous_as_of, f"folder {folder}", read_run_tiers(folder, manifest, label="--previous"))
    return PreviousRunSearch(run, f"Previous run: {folder} (as of {previous_as_of.date()}), as named by --previous")


def _sibling_previous(out_dir: Path, *, as_of: pd.Timestamp, identity: dict[str, object]) -> PreviousRunSearch:
    """The latest earlier run among the sibling folders of ``out_dir``; refuses a tie between differing runs."""
    own = out_dir.resolve()
    candidates, skipped = [], []
    for folder in sorted(p for p in own.parent.iterdir() if p.is_dir() and p != own):
        manifest = read_run_manifest(folder)
        if manifest is None or pd.Timestamp(manifest["as_of"]) >= as_of:
            continue
        reason = _mismatch(manifest, identity)
        if reason is None:
            candidates.append((pd.Timestamp(manifest["as_of"]), folder, manifest))
        else:
            skipped.append(f"{folder.name} ({reason})")
    skipped_note = f"; skipped {len(skipped)} earlier run(s): {', '.join(skipped[:2])}" if skipped else ""
    if not candidates:
        return PreviousRunSearch(None, f"no earlier run of this data set beside {out_dir}{skipped_note}")
    latest = max(when for when, _, _ in candidates)
    tied = [(folder, manifest) for when, folder, manifest in candidates if when == latest]
    if len({manifest["files"]["scores.parquet"].get("sha256") for _, manifest in tied}) > 1:
        names = ", ".join(folder.name for folder, _ in tied)
        raise TierwiseError(f"--out: the runs {names} beside {out_dir} are all as of {latest.date()} with different "
                            "scores; name the previous run with --previous")
    folder, manifest = tied[0]
    run = PreviousRun(latest, f"folder {folder}", read_run_tiers(folder, manifest, label="previous run"))
    return PreviousRunSearch(run, f"Previous run: {folder} (as of {latest.date()}){skipped_note}")


def _database_previous(url: str, table: str, *, as_of: pd.Timestamp, tier_names: list[str]) -> PreviousRunSearch:
    name = f"{table}_tiers"
    latest, tiers = read_tiers_before(url, table, as_of=as_of)
    if latest is None:
        return PreviousRunSearch(None, f"database table {name} holds no as_of before {as_of.date()}")
    unknown = sorted(set(tiers["tier"]) - set(tier_names))
    if unknown:
        raise TierwiseError(f"{name}: its {latest.date()} rows name tier {unknown[0]!r}, which this config does not "
                            "have; they came from another tier configuration (name a previous run with --previous)")
    return PreviousRunSearch(PreviousRun(latest, f"database table {name}", tiers),
                             f"Previous run: database table {name} (as of {latest.date()})")


def find_previous_run(
    out_dir: str | Path, *, as_of: pd.Timestamp, config: TierwiseConfig, explicit: str | os.PathLike | None = None,
) -> PreviousRunSearch:
    """The run to compare a run at ``as_of`` written into ``out_dir`` with (see the module's docstring).

    ``explicit`` (``--previous``) must be a tierwise run folder, as of a
    date before ``as_of``, of the same data set and tier configuration, or
    it is refused with one line. Otherwise the sibling folders of
    ``out_dir`` are searched, then the ``<export.table>_tiers`` table when
    ``export.database_url`` is set. Returns the run (None when there is
    none) and one line saying which run was used, or why none.

    Parameters
    ----------
    out_dir : str or path
        The new run's folder.
    as_of : pandas.Timestamp
        The new run's cutoff; only earlier runs qualify.
    config : TierwiseConfig
        The new run's config (data set, tiers, ``export.database_url``).
    explicit : str or path, optional
        The folder ``--previous`` names.

    Returns
    -------
    PreviousRunSearch
        The run found (or None) and the line.

    Raises
    ------
    TierwiseError
        When ``explicit`` is not a fitting run.
    """
    as_of = pd.Timestamp(as_of)
    identity = run_identity(config)
    if explicit is not None:
        return _explicit_previous(Path(explicit), as_of=as_of, identity=identity)
    found = _sibling_previous(Path(out_dir), as_of=as_of, identity=identity)
    if found.run is not None or not config.export.database_url:
        return found if found.run is not None else PreviousRunSearch(None, f"No previous run: {found.note}")
    in_database = _database_previous(config.export.database_url, config.export.table, as_of=as_of,
                                     tier_names=[rule.tier for rule in config.tiers])
    if in_database.run is not None:
        return in_database
    return PreviousRunSearch(None, f"No previous run: {found.note}; {in_database.note}")


def carry_tiers(scores: pd.DataFrame, previous: PreviousRun | None) -> pd.DataFrame:
    """``scores`` with ``previous_tier`` and ``tier_since`` filled in from the previous run (see the module's docstring).

    ``previous_tier`` is null for a customer the previous run did not score,
    and for everyone when there is no previous run.

    Parameters
    ----------
    scores : pandas.DataFrame
        The new run's scores, with ``customer_id``, ``as_of`` and ``tier``.
    previous : PreviousRun or None
        The previous run.

    Returns
    -------
    pandas.DataFrame
        A copy of ``scores``: ``tier_since`` is the previous run's when the tier is unchanged, else this ``as_of``.
    """
    scores = scores.copy()
    if previous is None:
        scores["previous_tier"] = pd.Series(None, index=scores.index, dtype="object")
        scores["tier_since"] = pd.Series(pd.NaT, index=scores.index, dtype="datetime64[us]")
        return scores
    earlier = previous.tiers.set_index("customer_id")
    previous_tier = scores["customer_id"].map(earlier["tier"])
    carried = scores["customer_id"].map(earlier["tier_since"])
    stayed = previous_tier.eq(scores["tier"]).fillna(False).to_numpy(dtype=bool)
    as_of = pd.to_datetime(scores["as_of"]).dt.normalize()
    scores["previous_tier"] = previous_tier.astype("object").where(previous_tier.notna(), None)
    scores["tier_since"] = pd.Series(np.where(stayed, carried, as_of), index=scores.index).astype("datetime64[us]")
    return scores


def tier_movers(scores: pd.DataFrame, outreach: pd.DataFrame, at_risk: list[str]) -> pd.DataFrame:
    """The customers who moved into an at-risk tier from one that was not, in ``MOVERS_COLUMNS``.

    ``scores`` carry ``previous_tier`` (see :func:`carry_tiers`); customers
    new to the run are not movers. ``on_list``: on the outreach list,
    ``control`` (held out of contact, never to be contacted) and
    ``list_position`` from it. Most value at risk first, then by customer id.

    Parameters
    ----------
    scores : pandas.DataFrame
        The run's scores, with ``tier`` and ``previous_tier`` (see :func:`carry_tiers`).
    outreach : pandas.DataFrame
        The whole list, with ``control``.
    at_risk : list of str
        The at-risk tiers (see :func:`at_risk_tiers`).

    Returns
    -------
    pandas.DataFrame
        One row per mover.
    """
    moved = scores["tier"].isin(at_risk) & scores["previous_tier"].notna() & ~scores["previous_tier"].isin(at_risk)
    movers = scores.loc[moved].merge(outreach[["customer_id", "control", "list_position"]], on="customer_id",
                                     how="left", validate="one_to_one")
    movers["on_list"] = movers["list_position"].notna()
    movers["control"] = movers["control"].fillna(False).astype(bool)
    movers["list_position"] = movers["list_position"].astype("Int64")
    order = np.lexsort((movers["customer_id"].to_numpy(), -movers["value_at_risk"].fillna(-np.inf).to_numpy()))
    return movers.iloc[order][MOVERS_COLUMNS].reset_index(drop=True)


def movers_csv_frame(movers: pd.DataFrame) -> pd.DataFrame:
    """The movers as written to movers.csv: probabilities to 6 decimals, amounts to 2, flags as true/false.

    Parameters
    ----------
    movers : pandas.DataFrame
        :func:`tier_movers`' result.

    Returns
    -------
    pandas.DataFrame
        A rounded copy.
    """
    frame = movers.copy()
    frame["churn_probability"] = frame["churn_probability"].round(6)
    for column in ("value_at_risk", "predicted_value"):
        frame[column] = frame[column].round(2)
    for column in ("on_list", "control"):
        frame[column] = frame[column].map({True: "true", False: "false"})
    return frame


def migration_matrix(scores: pd.DataFrame, tier_order: list[str]) -> pd.DataFrame:
    """The customers per previous tier (rows) x current tier (columns); the last row, customers new to the run.

    Rows and columns follow ``tier_order`` (tiers missing there come after,
    by name); tiers nobody is in on either side are left out.

    Parameters
    ----------
    scores : pandas.DataFrame
        The run's scores, with ``tier`` and ``previous_tier`` (see :func:`carry_tiers`).
    tier_order : list of str
        The tiers in rule order.

    Returns
    -------
    pandas.DataFrame
        Customer counts.
    """
    previous = scores["previous_tier"].astype("object").where(scores["previous_tier"].notna(), NEW_TO_RUN)
    counts = pd.crosstab(previous, scores["tier"])
    known = [t for t in tier_order if t in counts.index or t in counts.columns]
    rest = sorted((set(counts.index) | set(counts.columns)) - set(known) - {NEW_TO_RUN})
    order = known + rest
    rows = [t for t in order if t in counts.index] + ([NEW_TO_RUN] if NEW_TO_RUN in counts.index else [])
    return counts.reindex(index=rows, columns=[t for t in order if t in counts.columns], fill_value=0)


def moves_that_matter(scores: pd.DataFrame, at_risk: list[str]) -> pd.DataFrame:
    """The moves from a tier that is not at risk into one that is: previous_tier, tier, customers, value_at_risk.

    Most value at risk first.

    Parameters
    ----------
    scores : pandas.DataFrame
        The run's scores, with ``tier`` and ``previous_tier`` (see :func:`carry_tiers`).
    at_risk : list of str
        The at-risk tiers.

    Returns
    -------
    pandas.DataFrame
        One row per move.
    """
    moved = scores["tier"].isin(at_risk) & scores["previous_tier"].notna() & ~scores["previous_tier"].isin(at_risk)
    moves = (scores.loc[moved].groupby(["previous_tier", "tier"], sort=True)
             .agg(customers=("customer_id", "size"), value_at_risk=("value_at_risk", "sum")).reset_index())
    return moves.sort_values(["value_at_risk", "customers"], ascending=False, kind="stable").reset_index(drop=True)
