"""The input data contract: standardise and validate user tables.

Users name their columns in the config; from here on every table uses the
canonical names below, whatever the source called them:

- transactions: ``customer_id`` (str), ``ts`` (datetime), ``amount`` (float,
  net; negative is a refund or return), ``line_no`` (int, position in the
  source) and, when mapped, ``order_id``, ``quantity``, ``category``, ``channel``;
- events: ``customer_id``, ``ts``, ``event_type`` (str) and, when mapped, ``value``;
- customers: ``customer_id``, ``signup_ts`` (datetime, may be missing) and one
  ``attr_<name>`` string column per attribute listed in ``data.customers.attributes``.

Broken data raises :class:`~tierwise.errors.InputDataError` with one line that
names the source, the column, how many rows and an example. Suspicious but
usable data is kept and described in :attr:`InputData.warnings`.

The checks run as SQL in DuckDB (see :mod:`tierwise.input_sql`, which Spark
shares): files are read by DuckDB itself, DataFrames are registered in it, and
the validated tables stay there for the features; the pandas tables of
:class:`InputData` are made from them only when asked for.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from tierwise.config import CustomersSource, DataConfig, EventsSource, FeatureConfig
from tierwise.input_sql import (
    ROW,
    ColumnKind,
    Dialect,
    RawTable,
    standardize_customers,
    standardize_events,
    standardize_transactions,
)

_INTEGER_TYPES = {
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT",
}
_TABLE_COLUMNS = {
    "transactions": ["customer_id", "ts", "amount", "line_no", "order_id", "quantity", "category", "channel"],
    "events": ["customer_id", "ts", "event_type", "value"],
}


def _column_kind(duckdb_type: str) -> ColumnKind:
    name = duckdb_type.upper()
    if name == "BOOLEAN":
        return "boolean"
    if name in _INTEGER_TYPES:
        return "integer"
    if name in {"FLOAT", "DOUBLE", "REAL"} or name.startswith("DECIMAL"):
        return "float"
    if name == "TIMESTAMP WITH TIME ZONE":
        return "timestamptz"
    if name.startswith("TIMESTAMP") or name == "DATE":
        return "timestamp"
    return "text"


class DuckDBTables:
    """An in-memory DuckDB database holding raw inputs and, once validated, the canonical tables.

    Implements :class:`tierwise.input_sql.SqlRunner`. Several threads may query
    it at once through :meth:`cursor`.
    """

    dialect = Dialect()

    def __init__(self) -> None:
        self.connection = duckdb.connect()
        self.connection.execute("SET TimeZone = 'UTC'")

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A connection of its own to the same database, for one thread.

        Returns
        -------
        duckdb.DuckDBPyConnection
            A cursor on the same in-memory database; DuckDB connections are not shared between threads.
        """
        cursor = self.connection.cursor()
        cursor.execute("SET TimeZone = 'UTC'")
        return cursor

    def rows(self, sql: str) -> list[tuple]:
        """Run a query and return all its rows.

        Parameters
        ----------
        sql : str
            A DuckDB query.

        Returns
        -------
        list of tuple
            Every row of the result.
        """
        return self.connection.execute(sql).fetchall()

    def create_table(self, name: str, sql: str) -> None:
        """Store the result of ``sql`` as table ``name``.

        Parameters
        ----------
        name : str
            The table's name, replacing any earlier one.
        sql : str
            A DuckDB query.
        """
        self.connection.execute(f"CREATE OR REPLACE TABLE {name} AS {sql}")

    def create_view(self, name: str, sql: str) -> None:
        """Name the query ``sql`` as view ``name``.

        Parameters
        ----------
        name : str
            The view's name, replacing any earlier one.
        sql : str
            A DuckDB query.
        """
        self.connection.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")

    def columns(self, relation: str) -> list[str]:
        """The column names of a table or view.

        Parameters
        ----------
        relation : str
            A table or view name.

        Returns
        -------
        list of str
            Its column names, in order.
        """
        return [row[0] for row in self.connection.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]

    def raw_table(self, name: str) -> RawTable:
        """Describe relation ``name`` (with ``__row``) as a :class:`RawTable`.

        Parameters
        ----------
        name : str
            A relation holding a raw input and its ``__row`` numbers.

        Returns
        -------
        RawTable
            Its name and columns, for the checks of :mod:`tierwise.input_sql`.
        """
        described = self.connection.execute(f"DESCRIBE SELECT * FROM {name}").fetchall()
        return RawTable(name, {str(row[0]): _column_kind(str(row[1])) for row in described if row[0] != ROW})

    def register_frame(self, name: str, frame: pd.DataFrame) -> RawTable:
        """Register a DataFrame as raw relation ``name``, numbering its rows.

        Parameters
        ----------
        name : str
            The raw relation's name.
        frame : pandas.DataFrame
            A raw input, its columns named as in the config.

        Returns
        -------
        RawTable
            The relation, its rows numbered from 1 in ``__row`` (for messages naming rows).
        """
        arrays, names = [], []
        for position in range(frame.shape[1]):
            column = frame.iloc[:, position]
            try:
                array = pa.array(column, from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed Python objects: compare them as text, as pandas did
                array = pa.array(column.astype("str").where(column.notna()), from_pandas=True)
            arrays.append(array)
            names.append(str(frame.columns[position]))
        arrays.append(pa.array(np.arange(len(frame), dtype="int64")))
        names.append(ROW)
        self.connection.register(name, pa.Table.from_arrays(arrays, names=names))
        return self.raw_table(name)

    def drop(self, name: str) -> None:
        """Forget a raw relation (a registered DataFrame, a view over a file, or a table read from one).

        Parameters
        ----------
        name : str
            The raw relation's name.
        """
        self.connection.unregister(name)
        found = self.connection.execute(
            "SELECT table_type FROM information_schema.tables WHERE table_name = ?", [name]
        ).fetchall()
        if found:
            self.connection.execute(f"DROP {'VIEW' if found[0][0] == 'VIEW' else 'TABLE'} {name}")

    def frame(self, table: str) -> pd.DataFrame:
        """A canonical table as pandas, in source order (``__row`` left out).

        Parameters
        ----------
        table : str
            A canonical table: ``transactions``, ``events`` or ``customers``.

        Returns
        -------
        pandas.DataFrame
            The table's rows in the order of the source.
        """
        columns = [c for c in self.columns(table) if c != ROW]
        order = f" ORDER BY {ROW}" if ROW in self.columns(table) else " ORDER BY line_no" if table == "transactions" else ""
        listed = ", ".join(f'"{c}"' for c in columns)
        cursor = self.cursor()
        try:
            frame = cursor.execute(f"SELECT {listed} FROM {table}{order}").df()
        finally:
            cursor.close()
        for column in ("ts", "signup_ts"):
            if column in frame.columns:
                frame[column] = frame[column].astype("datetime64[us]")
        for column in frame.columns:
            if frame[column].dtype == object:
                frame[column] = frame[column].where(frame[column].notna(), np.nan)
        return frame


class InputData:
    """Validated, canonical input tables plus the warnings found on the way.

    Made by :func:`tierwise.io.read_inputs` and :func:`inputs_from_frames`,
    the tables live in DuckDB (``engine``) and the pandas frames
    ``transactions``, ``events`` and ``customers`` are made from them on first
    use; made from frames directly (as tests do), there is no engine.

    Parameters
    ----------
    transactions, events, customers : DataFrame, optional
        Canonical tables (see the module docstring); ``customers`` may be None.
    warnings : sequence of str
        Suspicious but usable data that was kept.
    engine : DuckDBTables, optional
        The database holding the canonical tables instead of the frames.
    has_customers : bool
        With ``engine``: whether it holds a ``customers`` table.

    Raises
    ------
    TypeError
        When neither the transactions and events frames nor an engine are given.
    """

    def __init__(
        self,
        transactions: pd.DataFrame | None = None,
        events: pd.DataFrame | None = None,
        customers: pd.DataFrame | None = None,
        warnings: Sequence[str] = (),
        *,
        engine: DuckDBTables | None = None,
        has_customers: bool = False,
    ) -> None:
        if engine is None and (transactions is None or events is None):
            raise TypeError("InputData needs transactions and events frames, or an engine holding them")
        self._frames: dict[str, pd.DataFrame | None] = {}
        if engine is None:
            self._frames = {"transactions": transactions, "events": events, "customers": customers}
        elif not has_customers:
            self._frames["customers"] = None
        self.engine = engine
        self.warnings = tuple(warnings)

    def _frame(self, table: str) -> pd.DataFrame | None:
        if table not in self._frames:
            assert self.engine is not None
            self._frames[table] = self.engine.frame(table)
        return self._frames[table]

    @property
    def transactions(self) -> pd.DataFrame:
        """Canonical transactions: ``customer_id``, ``ts``, ``amount``, ``line_no`` and mapped extras.

        Returns
        -------
        pandas.DataFrame
            One row per purchase line.
        """
        frame = self._frame("transactions")
        assert frame is not None
        return frame

    @property
    def events(self) -> pd.DataFrame:
        """Canonical events: ``customer_id``, ``ts``, ``event_type`` and, when mapped, ``value``.

        Returns
        -------
        pandas.DataFrame
            One row per event.
        """
        frame = self._frame("events")
        assert frame is not None
        return frame

    @property
    def customers(self) -> pd.DataFrame | None:
        """Canonical customers (``customer_id``, ``signup_ts``, ``attr_*``), or None without a customer table.

        Returns
        -------
        pandas.DataFrame or None
            One row per customer.
        """
        return self._frame("customers")

    def __repr__(self) -> str:
        """Where the tables live and how many warnings they carry, not their rows."""
        where = "DuckDB" if self.engine is not None else "pandas"
        return f"InputData(in {where}, {len(self.warnings)} warnings)"


def validate_raw_inputs(
    engine: DuckDBTables,
    raw: dict[str, RawTable],
    *,
    data: DataConfig,
    features: FeatureConfig,
    origins: dict[str, str],
) -> InputData:
    """Validate raw relations of ``engine`` (keys ``transactions``, optionally ``events``, ``customers``).

    Parameters
    ----------
    engine : DuckDBTables
        The database holding the raw relations; the canonical tables are created in it.
    raw : dict of str to RawTable
        The raw relations by input.
    data, features : DataConfig, FeatureConfig
        Column names, formats, limits and the event types.
    origins : dict of str to str
        How messages name each input.

    Returns
    -------
    InputData
        The validated tables, held in ``engine``.

    Raises
    ------
    InputDataError
        For broken data, in one line.
    """
    warnings = standardize_transactions(
        engine, raw["transactions"], data.transactions, origin=origins["transactions"], max_timestamp=data.max_timestamp
    )
    if "events" in raw:
        warnings += standardize_events(
            engine, raw["events"], data.events or EventsSource(path=""), origin=origins["events"], features=features,
            max_timestamp=data.max_timestamp,
        )
    else:
        engine.create_table(
            "events", f"SELECT CAST(NULL AS VARCHAR) AS customer_id, CAST(NULL AS TIMESTAMP) AS ts, "
            f"CAST(NULL AS VARCHAR) AS event_type, CAST(NULL AS BIGINT) AS {ROW} WHERE 1 = 0",
        )
    if "customers" in raw:
        standardize_customers(engine, raw["customers"], data.customers or CustomersSource(path=""),
                              origin=origins["customers"])
    else:
        engine.create_table(
            "customers", "SELECT CAST(NULL AS VARCHAR) AS customer_id, CAST(NULL AS TIMESTAMP) AS signup_ts WHERE 1 = 0"
        )
    for relation in raw.values():  # examples are only looked up while checking
        engine.drop(relation.name)
    return InputData(engine=engine, warnings=warnings, has_customers="customers" in raw)


def inputs_from_frames(
    transactions: pd.DataFrame,
    *,
    data: DataConfig,
    features: FeatureConfig,
    events: pd.DataFrame | None = None,
    customers: pd.DataFrame | None = None,
    origins: dict[str, str] | None = None,
) -> InputData:
    """Validate raw DataFrames (columns named as in ``data``) into :class:`InputData`.

    ``origins`` names each table in error messages (a file path, say);
    DataFrames passed from Python are called e.g. "transactions DataFrame".
    The frames are registered in DuckDB and checked by the same SQL as files.

    Parameters
    ----------
    transactions : pandas.DataFrame
        The purchase lines, columns named as in ``data.transactions.columns``.
    data : DataConfig
        The column mappings and timestamp formats.
    features : FeatureConfig
        The event types that become features (others are warned about).
    events : pandas.DataFrame, optional
        The events, columns named as in ``data.events.columns``; None for no events.
    customers : pandas.DataFrame, optional
        One row per customer, columns named as in ``data.customers.columns``.
    origins : dict of str to str, optional
        The name of each table (``transactions``, ``events``, ``customers``) in messages.

    Returns
    -------
    InputData
        The validated tables (in DuckDB) and the warnings.

    Raises
    ------
    InputDataError
        When a column is missing or holds bad values (naming the table, the column, the rows and an example).
    """
    origins = origins or {}
    engine = DuckDBTables()
    raw: dict[str, RawTable] = {}
    named: dict[str, str] = {}
    for name, frame in (("transactions", transactions), ("events", events), ("customers", customers)):
        if frame is not None:
            raw[name] = engine.register_frame(f"raw_{name}", frame)
            named[name] = origins.get(name, f"{name} DataFrame")
    return validate_raw_inputs(engine, raw, data=data, features=features, origins=named)
