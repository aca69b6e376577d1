"""All file reading and writing: inputs in, tables out.

Paths starting with ``tierwise:`` point inside the installed package (the
bundled CDNOW log), so configs work from any working directory. Outputs are
written to a temporary file in the target folder and renamed into place, so a
reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import functools
import glob
import hashlib
import json
import os
import secrets
from collections.abc import Callable, Iterator, Mapping
from importlib import resources
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tierwise.config import DataConfig, FeatureConfig, FileFormat, TierwiseConfig
from tierwise.errors import InputDataError, MissingDependencyError, TierwiseError
from tierwise.input_sql import ROW, RawTable, quote_identifier, quote_literal
from tierwise.inputs import DuckDBTables, InputData, validate_raw_inputs
from tierwise.synthetic import DemoData

PACKAGE_PREFIX = "tierwise:"
_PARQUET_MAGIC = b"PAR1"


def resolve_path(path: str | Path) -> Path:
    """Resolve ``tierwise:<relative path>`` to a file shipped inside the package.

    Parameters
    ----------
    path : str or path
        A file path, or ``tierwise:<relative path>`` for a file inside the installed package.

    Returns
    -------
    Path
        The path itself, or the packaged file's location.
    """
    text = str(path)
    if text.startswith(PACKAGE_PREFIX):
        return Path(str(resources.files("tierwise").joinpath(text[len(PACKAGE_PREFIX) :])))
    return Path(text)


def infer_format(path: Path, declared: FileFormat | None) -> FileFormat:
    """The file's format: the declared one, else the one its suffix names; refuses an unknown suffix.

    Parameters
    ----------
    path : Path
        The file; when no format is declared, ``.parquet`` and ``.pq`` mean Parquet, ``.csv``, ``.tsv`` and
        ``.txt`` mean CSV.
    declared : {"csv", "parquet", "whitespace"} or None
        The format set in the config (``format:``), which wins over the suffix.

    Returns
    -------
    {"csv", "parquet", "whitespace"}
        The format to read the file with.

    Raises
    ------
    InputDataError
        When nothing is declared and the suffix names no known format.
    """
    if declared is not None:
        return declared
    suffix = path.suffix.lower()
    if suffix in {".parquet", ".pq"}:
        return "parquet"
    if suffix in {".csv", ".tsv", ".txt"}:
        return "csv"
    raise InputDataError(f"{path}: cannot tell the file format from the suffix '{suffix}'; set format: csv or parquet")


def read_table(path: str | Path, declared: FileFormat | None = None, *, header: bool = True) -> pd.DataFrame:
    """Read a CSV, whitespace-separated or Parquet file; text columns stay text for validation.

    Parameters
    ----------
    path : str or Path
        The file.
    declared : {"csv", "parquet", "whitespace"}, optional
        Its format; default: from the suffix.
    header : bool
        Whether a text file's first line names its columns; without one the
        columns are :func:`positional_names`.

    Returns
    -------
    pandas.DataFrame
        The file's rows, text columns as text.

    Raises
    ------
    InputDataError
        When the file is missing, empty, of another format or unreadable.
    """
    frame = _read_any(path, declared, header=header)
    if frame.empty:
        raise InputDataError(f"{path}: no data rows (the file has only a header)")
    return frame


def _checked_file(path: str | Path, declared: FileFormat | None, *, header: bool = True) -> tuple[Path, FileFormat]:
    """The file behind ``path`` and its format, refusing what is missing, empty or of the wrong kind."""
    resolved = resolve_path(path)
    if not resolved.is_file():
        raise InputDataError(f"{path}: file not found")
    file_format = infer_format(resolved, declared)
    if not header and file_format == "parquet":
        raise InputDataError(f"{path}: header: false is for text files; a Parquet file names its columns itself")
    if resolved.stat().st_size == 0:
        raise InputDataError(f"{path}: the file is empty")
    with resolved.open("rb") as handle:
        head = handle.read(8192)
    if file_format == "parquet":
        if not head.startswith(_PARQUET_MAGIC):
            raise InputDataError(f"{path}: not a Parquet file (it lacks the Parquet header); set format: csv if it is text")
    elif head.startswith(_PARQUET_MAGIC) or b"\x00" in head:
        raise InputDataError(f"{path}: not a text {file_format.upper()} file (it holds binary data, e.g. Parquet)")
    return resolved, file_format


def positional_names(count: int) -> list[str]:
    """The names of a headerless file's columns: ``column_1`` to ``column_<count>``, counted as people count.

    Parameters
    ----------
    count : int
        The number of columns in the file.

    Returns
    -------
    list of str
        ``["column_1", ..., "column_<count>"]``.

    Examples
    --------
    >>> positional_names(3)
    ['column_1', 'column_2', 'column_3']
    """
    return [f"column_{position}" for position in range(1, count + 1)]


def _read_any(path: str | Path, declared: FileFormat | None, *, header: bool = True) -> pd.DataFrame:
    resolved, file_format = _checked_file(path, declared, header=header)
    if file_format == "parquet":
        try:
            return pq.read_table(resolved).to_pandas()
        except (pa.ArrowException, OSError) as exc:
            raise InputDataError(f"{path}: unreadable Parquet file: {str(exc).splitlines()[0]}") from None
    separator = r"\s+" if file_format == "whitespace" else ","
    try:
        frame = pd.read_csv(
            resolved, sep=separator, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8",
            header=0 if header else None,
        )
        if not header:
            frame.columns = positional_names(frame.shape[1])
        return frame
    except UnicodeDecodeError:
        raise InputDataError(f"{path}: not UTF-8 text") from None
    except pd.errors.EmptyDataError:
        raise InputDataError(f"{path}: the file is empty") from None
    except pd.errors.ParserError as exc:
        raise InputDataError(f"{path}: malformed {file_format}: {str(exc).strip().splitlines()[-1]}") from None


def _raw_input(engine: DuckDBTables, name: str, path: str, declared: FileFormat | None, *, header: bool) -> RawTable:
    """Put one input file into ``engine`` as raw relation ``name``, numbering its data rows.

    DuckDB reads Parquet and CSV itself (CSV as text, to be parsed by the
    checks); whitespace-separated files, which DuckDB cannot split, go through
    pandas. A text file without ``header`` gets the columns
    :func:`positional_names`.
    """
    resolved, file_format = _checked_file(path, declared, header=header)
    if file_format == "whitespace":
        frame = _read_any(path, declared, header=header)
        if frame.empty:
            raise InputDataError(f"{path}: no data rows (the file has only a header)")
        return engine.register_frame(name, frame)
    location = quote_literal(str(resolved))
    # Text as the file has it; a quoted empty field is missing, as in pandas.
    text = (f"read_csv({location}, header = {str(header).lower()}, all_varchar = true, delim = ',', quote = '\"', "
            "escape = '\"', null_padding = true, encoding = 'utf-8')")
    try:
        if file_format == "parquet":
            engine.connection.execute(f"CREATE VIEW {name} AS SELECT * EXCLUDE (file_row_number), file_row_number "
                                      f"AS {ROW} FROM read_parquet({location}, file_row_number = true)")
        else:
            columns = "*"
            if not header:
                found = [row[0] for row in engine.rows(f"DESCRIBE SELECT * FROM {text}")]
                columns = ", ".join(f"{quote_identifier(column)} AS {renamed}"
                                    for column, renamed in zip(found, positional_names(len(found)), strict=True))
            # ROW_NUMBER() OVER () numbers rows in file order, which DuckDB keeps (preserve_insertion_order).
            engine.connection.execute(f"CREATE TABLE {name} AS SELECT {columns}, ROW_NUMBER() OVER () - 1 AS {ROW} "
                                      f"FROM {text}")
        raw = engine.raw_table(name)
        rows = engine.rows(f"SELECT COUNT(*) FROM {name}")[0][0]  # a Parquet view reads its data only here
    except duckdb.Error as exc:
        first_line = str(exc).strip().splitlines()[0]
        if "unicode" in first_line.lower():
            raise InputDataError(f"{path}: not UTF-8 text") from None
        what = "Parquet file" if file_format == "parquet" else f"{file_format}"
        raise InputDataError(f"{path}: {'unreadable' if file_format == 'parquet' else 'malformed'} {what}: "
                             f"{first_line}") from None
    if not rows:
        raise InputDataError(f"{path}: no data rows (the file has only a header)")
    return raw


def read_inputs(data: DataConfig, features: FeatureConfig) -> InputData:
    """Read and validate every input named in the data config.

    The files are read and checked by DuckDB, and the validated tables stay in
    its database for the features (see :class:`tierwise.inputs.InputData`).

    Parameters
    ----------
    data : DataConfig
        The inputs' paths, formats and columns.
    features : FeatureConfig
        The event types that become features (others are warned about).

    Returns
    -------
    InputData
        The validated tables and the warnings.

    Raises
    ------
    InputDataError
        For a missing, unreadable or broken input, in one line.
    """
    for name, source in (("transactions", data.transactions), ("events", data.events), ("customers", data.customers)):
        if source is not None and source.table is not None:
            raise InputDataError(
                f"data.{name}.table: {source.table!r} is a Spark table, which only the Spark engine reads "
                "(--engine spark); give a path to read it here"
            )
    engine = DuckDBTables()
    raw: dict[str, RawTable] = {}
    origins: dict[str, str] = {}
    for name, source in (("transactions", data.transactions), ("events", data.events), ("customers", data.customers)):
        if source is not None:
            assert source.path is not None  # a source has a path or a table, and tables were refused above
            raw[name] = _raw_input(engine, f"raw_{name}", source.path, source.format, header=source.header)
            origins[name] = source.path
    return validate_raw_inputs(engine, raw, data=data, features=features, origins=origins)


def read_config_inputs(config: TierwiseConfig) -> InputData:
    """Read, standardize and validate the inputs a whole config names.

    Parameters
    ----------
    config : TierwiseConfig
        Its ``data`` section names the files and columns, its ``features`` section the event types to use.

    Returns
    -------
    InputData
        The validated tables (in DuckDB) and the warnings met while reading them.

    Raises
    ------
    InputDataError
        When a file is missing or unreadable, or a column is missing or holds bad values (the message names the
        file, the column, how many rows and an example).
    """
    return read_inputs(config.data, config.features)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0 only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, run by another user
        pass
    return True


def _left_by_a_dead_process(temporary: Path, target: Path) -> bool:
    """True for ``.<name>.<pid>.<token>.tmp`` files whose process is gone."""
    pid, _, token = temporary.name[len(target.name) + 2 : -len(".tmp")].partition(".")
    return pid.isdigit() and token.isalnum() and not _process_alive(int(pid))


def _new_temporary(target: Path) -> Path:
    """An empty hidden file beside ``target``, named after this process, with the mode a plain write would give."""
    while True:
        temporary = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # the umask applies
        except FileExistsError:
            continue
        return temporary


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` only on success.

    A process killed mid-write leaves ``target`` as it was; its hidden
    ``.<name>.<pid>.<token>.tmp`` file is removed by the next write of the same
    target, once that process is gone: a live writer's file is never touched.
    The file gets the mode any write under the user's umask gets.

    Parameters
    ----------
    target : str or path
        The file to write.

    Yields
    ------
    Path
        The temporary file to write to; it replaces ``target`` when the block ends without an exception.

    Raises
    ------
    TierwiseError
        When the target's folder cannot be written.

    Examples
    --------
    >>> with atomic_path("out/scores.csv") as tmp:  # doctest: +SKIP
    ...     frame.to_csv(tmp, index=False)
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        if _left_by_a_dead_process(stale, target):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
    temporary = _new_temporary(target)
    try:
        yield temporary
        os.replace(temporary, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def _file_in_the_way(path: Path) -> Path | None:
    """The nearest existing one of ``path`` and its parents, when it is a file rather than a folder."""
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    return existing if existing is not None and not existing.is_dir() else None


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocking = _file_in_the_way(folder)
        where = "it" if blocking == folder else blocking
        reason = exc.strerror if blocking is None else f"{where} is a file, not a folder"
        raise TierwiseError(f"{folder}: cannot write into this folder: {reason}") from None


# The folders this process holds with lock_folder, resolved.
_HELD_FOLDERS: set[Path] = set()


@contextlib.contextmanager
def lock_folder(folder: str | Path, *, join: bool = False) -> Iterator[Path]:
    """Hold ``folder`` for one run; a second run into it is refused at once, with this one's pid and start.

    The lock (``flock`` on the hidden ``.tierwise.lock`` inside) ends with the
    process, so a killed run never leaves the folder locked. The folder is
    created if needed, and removed again when the run ends leaving nothing in
    it (a refused run leaves no empty folder behind). With ``join``, a folder
    this process already holds is joined rather than refused: the CLI holds
    ``--out`` from its start while :func:`tierwise.deliver` writes into it.

    Parameters
    ----------
    folder : str or path
        The output folder to hold.
    join : bool
        Join a hold this process already has on ``folder`` instead of refusing it.

    Yields
    ------
    Path
        The folder, held until the block ends.

    Raises
    ------
    TierwiseError
        When another run holds the folder (naming its pid and start), or the folder cannot be created.
    """
    folder = Path(folder)
    held = folder.resolve()
    if join and held in _HELD_FOLDERS:
        yield folder
        return
    created = not folder.exists()
    _make_folder(folder)
    handle = open(folder / ".tierwise.lock", "a+", encoding="utf-8")  # the lock lasts as long as this handle
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "pid unknown"
        handle.close()
        raise TierwiseError(
            f"{folder}: another tierwise run is writing here ({holder}); wait for it to end or choose another folder"
        ) from None
    try:
        handle.truncate(0)
        started = dt.datetime.now().astimezone().isoformat(timespec="seconds")
        handle.write(f"pid {os.getpid()}, started {started}")
        handle.flush()
        _HELD_FOLDERS.add(held)
        yield folder
    finally:
        _HELD_FOLDERS.discard(held)
        if created and [entry.name for entry in folder.iterdir()] == [".tierwise.lock"]:
            (folder / ".tierwise.lock").unlink()
            folder.rmdir()
        handle.close()


def _write_atomically(target: str | Path, write: Callable[[Path], object]) -> Path:
    with atomic_path(target) as temporary:
        write(temporary)
    return Path(target)


def _parquet_to(frame: pd.DataFrame, path: Path) -> None:
    # Without the frame's attrs: pandas would store them in the file's metadata (a run's context, which differs
    # between runs of the same inputs) or, when they are not JSON, warn on every write.
    plain = frame.copy(deep=False)
    plain.attrs = {}
    pq.write_table(pa.Table.from_pandas(plain, preserve_index=False), path, compression="zstd")


def _csv_to(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, encoding="utf-8", date_format="%Y-%m-%d", lineterminator="\n")


def write_parquet(frame: pd.DataFrame, target: str | Path) -> Path:
    """Write a DataFrame as Parquet, atomically, with the same bytes for the same frame.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table; its index is not written.
    target : str or path
        The file to write.

    Returns
    -------
    Path
        The target, as a path.

    Raises
    ------
    TierwiseError
        When the target's folder cannot be written.
    """
    return _write_atomically(target, lambda tmp: _parquet_to(frame, tmp))


def write_csv(frame: pd.DataFrame, target: str | Path) -> Path:
    """Write a DataFrame as UTF-8 CSV with ISO dates, atomically.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table; its index is not written, dates are written as ``YYYY-MM-DD``.
    target : str or path
        The file to write.

    Returns
    -------
    Path
        The target, as a path.

    Raises
    ------
    TierwiseError
        When the target's folder cannot be written.
    """
    return _write_atomically(target, lambda tmp: _csv_to(frame, tmp))


def check_output_file(target: str | Path, *, label: str) -> Path:
    """Refuse, before any work, a file target that names a folder or lies under a file.

    ``label`` names the target in the message, e.g. ``--out``.

    Parameters
    ----------
    target : str or path
        The file a command will write.
    label : str
        How the user named the target, e.g. ``--out``.

    Returns
    -------
    Path
        The target, as a path.

    Raises
    ------
    TierwiseError
        When ``target`` is a folder or one of its parents is a file.
    """
    target = Path(target)
    if target.is_dir():
        raise TierwiseError(f"{label}: {target} is a folder; name a file to write, e.g. {target / 'features.parquet'}")
    blocking = _file_in_the_way(target.parent)
    if blocking is not None:
        raise TierwiseError(f"{label}: {target}: {blocking} is a file, not a folder")
    return target


def write_demo_data(demo: DemoData, out_dir: str | Path, file_format: FileFormat = "parquet") -> list[Path]:
    """Write the synthetic retailer's three tables into ``out_dir``.

    Parameters
    ----------
    demo : DemoData
        The tables from :func:`tierwise.synthetic.generate_demo_data`.
    out_dir : str or path
        The folder; created if needed.
    file_format : {"parquet", "csv"}
        The files' format.

    Returns
    -------
    list of Path
        The files written: transactions, events and customers.
    """
    out_dir = Path(out_dir)
    writer, suffix = (write_csv, "csv") if file_format == "csv" else (write_parquet, "parquet")
    return [
        writer(demo.transactions, out_dir / f"transactions.{suffix}"),
        writer(demo.events, out_dir / f"events.{suffix}"),
        writer(demo.customers, out_dir / f"customers.{suffix}"),
    ]


def _export_csv_frame(outreach: pd.DataFrame) -> pd.DataFrame:
    """Fixed number formats so the CSV reads the same in every CRM and reruns give the same bytes."""
    frame = outreach.copy()
    for column in ("churn_probability",):
        frame[column] = frame[column].round(6)
    for column in ("predicted_value", "retained_value", "value_at_risk", "expected_saving", "avg_days_between_orders"):
        frame[column] = frame[column].round(2)
    frame["control"] = frame["control"].map({True: "true", False: "false"})
    return frame


def _file_entry(path: Path) -> dict:
    return {"sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "bytes": path.stat().st_size}


def write_export(
    outreach: pd.DataFrame, out_dir: str | Path, *, scores: pd.DataFrame, schema_version: int, model_version: str,
    as_of: pd.Timestamp, scored_at: str, horizons: dict[str, int], terms: dict[str, object],
    report: Callable[[pd.DataFrame, pd.DataFrame, dict], str] | None = None,
    tables: Mapping[str, pd.DataFrame] | None = None,
    drift: dict | None = None,
) -> dict:
    """Write a run's files, then its manifest; returns the manifest.

    The files: scores.parquet (everyone), outreach.csv and outreach.parquet
    (the customers to contact: ``control`` false), control.csv and
    control.parquet (the customers held out of contact: ``control`` true), all
    of the list in the same columns. ``horizons`` (``churn_horizon_days``,
    ``value_horizon_days``) say what the figures mean: the probability of no
    purchase within the first, the spend expected within the second, as the
    models actually learned them; ``terms`` (currency, save rate, contact
    cost, ...) the assumptions behind them; both go into the manifest.
    ``report(scores, outreach, manifest)``, when given, returns the HTML page
    written as ``report.html`` with the other files and covered by the
    manifest like them. ``tables`` maps further file names (``.csv`` or
    ``.parquet``) to the frames written there, as they are, with the others.
    ``drift`` (see :func:`tierwise.monitoring.measure_drift`),
    when given, is written as ``drift.json`` with the other files; without
    it, an earlier run's ``drift.json`` is removed.

    All files are complete before any is renamed into place; the old
    manifest is removed before the first rename and the new one (with every
    file's sha256 and size) comes last. At any moment the folder holds either
    no manifest or one that matches every file, so a loader that checks it
    never takes half a run, nor files of two runs. Only the manifest carries
    the wall-clock time; the data files are the same bytes on a rerun.

    Parameters
    ----------
    outreach : pandas.DataFrame
        The whole list, contacts and control customers, with a boolean ``control`` column.
    out_dir : str or path
        The run folder; created if needed.
    scores : pandas.DataFrame
        Everyone's scores, written as scores.parquet.
    schema_version : int
        The export's column schema version, recorded in the manifest.
    model_version : str
        The models that scored, recorded in the manifest.
    as_of : pandas.Timestamp
        The cutoff the scores are as of.
    scored_at : str
        When the scores were made (ISO timestamp), the only wall-clock time in the files.
    horizons : dict of str to int
        ``churn_horizon_days`` and ``value_horizon_days``.
    terms : dict of str to object
        The assumptions behind the figures (currency, save rate, contact cost, ...).
    report : callable, optional
        ``report(scores, outreach, manifest)`` returning the HTML of report.html; None writes no report.
    tables : mapping of str to pandas.DataFrame, optional
        Further files (``.csv`` or ``.parquet`` names) and their frames.
    drift : dict, optional
        The drift figures, written as drift.json.

    Returns
    -------
    dict
        The manifest as written: ``as_of``, horizons, terms, and each file's sha256 and size.

    Raises
    ------
    TierwiseError
        When the folder cannot be written.
    """
    out_dir = Path(out_dir)
    contacts, control = outreach[~outreach["control"]], outreach[outreach["control"]]
    manifest = {
        "schema_version": schema_version,
        "columns": list(outreach.columns),
        "row_count": len(contacts),
        "control_row_count": len(control),
        "as_of": as_of.date().isoformat(),
        **horizons,
        **terms,
        "model_version": model_version,
        "scored_at": scored_at,
    }
    writers: dict[str, Callable[[Path], object]] = {
        "scores.parquet": lambda path: _parquet_to(scores, path),
        "outreach.csv": lambda path: _csv_to(_export_csv_frame(contacts), path),
        "outreach.parquet": lambda path: _parquet_to(contacts, path),
        "control.csv": lambda path: _csv_to(_export_csv_frame(control), path),
        "control.parquet": lambda path: _parquet_to(control, path),
    }
    for name, table in (tables or {}).items():
        writers[name] = functools.partial(_csv_to if name.endswith(".csv") else _parquet_to, table)
    if drift is not None:
        writers[DRIFT_FILE] = lambda path: path.write_text(
            json.dumps(drift, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")
    if report is not None:
        page = report(scores, outreach, manifest)
        writers["report.html"] = lambda path: path.write_text(page, encoding="utf-8")
    manifest_path = out_dir / "manifest.json"
    with contextlib.ExitStack() as renames_on_exit:
        staged = {name: renames_on_exit.enter_context(atomic_path(out_dir / name)) for name in writers}
        for name, write in writers.items():
            write(staged[name])
        files = {name: _file_entry(path) for name, path in staged.items()}
        manifest_path.unlink(missing_ok=True)
        if drift is None:  # an earlier run's drift figures would read as this run's
            (out_dir / DRIFT_FILE).unlink(missing_ok=True)
    manifest["files"] = files
    _write_manifest(manifest_path, manifest)
    return manifest


def _write_manifest(path: Path, manifest: dict) -> None:
    _write_atomically(
        path, lambda tmp: tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    )


def _database_engine(url: str):
    """A SQLAlchemy engine for ``url``; a malformed URL or a missing driver is one line saying what to do."""
    import sqlalchemy as sa

    try:
        return sa.create_engine(url)
    except sa.exc.ArgumentError as exc:
        raise TierwiseError(f"export.database_url: {str(exc).splitlines()[0]}") from None
    except ImportError as exc:
        hint = (" (pip install 'tierwise[postgres]', which brings psycopg, and use postgresql+psycopg://...)"
                if url.startswith("postgres") else "")
        raise MissingDependencyError(f"export.database_url: its database driver is not installed: {exc}{hint}") from None


def check_database(url: str) -> None:
    """Connect to ``url`` once, before any work, so a wrong URL is refused before the files are written.

    Parameters
    ----------
    url : str
        A SQLAlchemy URL (``export.database_url``), e.g. ``postgresql+psycopg://user@host/crm``.

    Raises
    ------
    TierwiseError
        When the URL is malformed or the database refuses the connection.
    MissingDependencyError
        When the URL's driver is not installed (naming the extra to install).
    """
    import sqlalchemy as sa

    engine = _database_engine(url)
    try:
        with engine.connect():
            pass
    except sa.exc.SQLAlchemyError as exc:
        raise TierwiseError(f"export.database_url: cannot connect: {str(exc).splitlines()[0][:200]}") from None
    finally:
        engine.dispose()


def replace_outreach_rows(
    outreach: pd.DataFrame, url: str, table: str, *, as_of: pd.Timestamp, tiers: pd.DataFrame | None = None
) -> int:
    """Make ``table`` hold exactly the customers to contact of ``outreach`` for ``as_of``.

    ``<table>_control`` gets its control customers, like the export's files, in the same transaction.

    ``tiers`` (customer_id, tier, tier_since of everyone scored), when given,
    replaces the ``as_of`` rows of ``<table>_tiers`` in the same transaction:
    what the next run reads as its previous run's tiers.

    The rows already there for ``as_of`` are deleted and the list inserted, so
    a re-delivery (say a shorter list) leaves no row of the earlier one; a
    failure leaves both tables as they were. Rows of other as_of dates stay.
    The tables are created on first use, keyed by (customer_id, as_of); one
    whose columns differ from the export is refused, never altered. Returns
    the number of rows written to both.

    Parameters
    ----------
    outreach : pandas.DataFrame
        The whole list of one ``as_of``, contacts and control customers, with a boolean ``control`` column.
    url : str
        A SQLAlchemy URL (``export.database_url``).
    table : str
        The contacts' table; the control customers go to ``<table>_control``, the tiers to ``<table>_tiers``.
    as_of : pandas.Timestamp
        The cutoff the list was scored as of; its rows are replaced, other dates' rows stay.
    tiers : pandas.DataFrame, optional
        ``customer_id``, ``tier`` and ``tier_since`` of everyone scored.

    Returns
    -------
    int
        The number of rows written to the contacts' and the control table together.

    Raises
    ------
    TierwiseError
        When a table's columns differ from the export's, or the database fails (the tables are left as they were).
    MissingDependencyError
        When the URL's driver is not installed.
    """
    import sqlalchemy as sa

    engine = _database_engine(url)
    cutoff = pd.Timestamp(as_of).date()
    frame = outreach.copy()
    frame["as_of"] = frame["as_of"].dt.date
    if (frame["as_of"] != cutoff).any():
        raise ValueError(f"outreach rows of another as_of than {cutoff}")
    for column in ("expected_next_order_date", "tier_since"):
        frame[column] = frame[column].dt.date
    types: dict[str, sa.types.TypeEngine] = {
        "customer_id": sa.String(), "as_of": sa.Date(), "list_position": sa.Integer(), "control": sa.Boolean(),
        "expected_next_order_date": sa.Date(), "next_order_overdue_days": sa.Integer(), "tier_since": sa.Date(),
    }

    def column_type(of: pd.DataFrame, name: str) -> sa.types.TypeEngine:
        if name in types:
            return types[name]
        return sa.Float() if pd.api.types.is_float_dtype(of[name]) else sa.String()

    def columns(of: pd.DataFrame) -> list[sa.Column]:
        return [sa.Column(name, column_type(of, name), primary_key=name in ("customer_id", "as_of")) for name in of.columns]

    metadata = sa.MetaData()
    parts = [(table, frame[~frame["control"]]), (f"{table}_control", frame[frame["control"]])]
    if tiers is not None:
        parts.append((f"{table}_tiers", pd.DataFrame({
            "customer_id": tiers["customer_id"], "as_of": cutoff, "tier": tiers["tier"],
            "tier_since": pd.to_datetime(tiers["tier_since"]).dt.date,
        })))
    targets = {sa.Table(name, metadata, *columns(part)): part for name, part in parts}
    try:
        with engine.begin() as connection:
            existing = sa.inspect(connection)
            for target, part in targets.items():
                if existing.has_table(target.name):
                    found = [c["name"] for c in existing.get_columns(target.name)]
                    if found != list(part.columns):
                        raise TierwiseError(f"{target.name}: the table's columns differ from the export schema; "
                                            f"found {', '.join(found[:6])}...")
                else:
                    target.create(connection)
                connection.execute(sa.delete(target).where(target.c.as_of == cutoff))
                records = part.astype(object).where(part.notna(), None).to_dict("records")
                if records:
                    connection.execute(sa.insert(target), records)
    except sa.exc.SQLAlchemyError as exc:
        raise TierwiseError(f"{table}: database error: {str(exc).splitlines()[0][:200]}") from None
    finally:
        engine.dispose()
    return len(frame)


def read_tiers_before(url: str, table: str, *, as_of: pd.Timestamp) -> tuple[pd.Timestamp | None, pd.DataFrame]:
    """The latest as_of before ``as_of`` in ``<table>_tiers`` and its rows (customer_id, tier, tier_since).

    ``(None, empty frame)`` when the table does not exist or holds no earlier
    as_of.

    Parameters
    ----------
    url : str
        A SQLAlchemy URL (``export.database_url``).
    table : str
        The contacts' table; the tiers are read from ``<table>_tiers``.
    as_of : pandas.Timestamp
        The cutoff of the run being scored; only earlier dates are read.

    Returns
    -------
    previous_as_of : pandas.Timestamp or None
        The latest earlier as_of in the table.
    tiers : pandas.DataFrame
        Its rows: ``customer_id``, ``tier``, ``tier_since``.

    Raises
    ------
    TierwiseError
        When the database fails.
    """
    import sqlalchemy as sa

    name = f"{table}_tiers"
    empty = pd.DataFrame({"customer_id": pd.Series(dtype=str), "tier": pd.Series(dtype=str),
                          "tier_since": pd.Series(dtype="datetime64[us]")})
    engine = _database_engine(url)
    try:
        with engine.connect() as connection:
            if not sa.inspect(connection).has_table(name):
                return None, empty
            tiers = sa.Table(name, sa.MetaData(), autoload_with=connection)
            latest = connection.execute(
                sa.select(sa.func.max(tiers.c.as_of)).where(tiers.c.as_of < pd.Timestamp(as_of).date())).scalar()
            if latest is None:
                return None, empty
            rows = connection.execute(
                sa.select(tiers.c.customer_id, tiers.c.tier, tiers.c.tier_since).where(tiers.c.as_of == latest)
            ).fetchall()
    except sa.exc.SQLAlchemyError as exc:
        raise TierwiseError(f"{name}: database error: {str(exc).splitlines()[0][:200]}") from None
    finally:
        engine.dispose()
    frame = pd.DataFrame(rows, columns=["customer_id", "tier", "tier_since"])
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame["tier_since"] = pd.to_datetime(frame["tier_since"]).astype("datetime64[us]")
    return pd.Timestamp(latest), frame


def read_run_manifest(folder: str | Path) -> dict | None:
    """The manifest of a ``tierwise score --out`` folder, or None when the folder holds none (or not a run's).

    Parameters
    ----------
    folder : str or path
        The ``--out`` folder of a ``tierwise score`` run.

    Returns
    -------
    dict or None
        The parsed manifest.json.
    """
    path = Path(folder) / "manifest.json"
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(manifest, dict) or "scores.parquet" not in manifest.get("files", {}):
        return None
    try:
        dt.date.fromisoformat(manifest["as_of"])
    except (KeyError, TypeError, ValueError):
        return None
    return manifest


def read_run_tiers(folder: str | Path, manifest: dict, *, label: str) -> pd.DataFrame:
    """A run's ``customer_id``, ``tier`` and ``tier_since`` from its scores.parquet, checked against its manifest.

    ``label`` names the run in the message when the file does not match the
    manifest's sha256 (edited, or half written).

    Parameters
    ----------
    folder : str or path
        The ``--out`` folder of a ``tierwise score`` run.
    manifest : dict
        The run's manifest, as :func:`read_run_manifest` returns it.
    label : str
        How the run is named in messages.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``tier``, ``tier_since``, one row per customer scored.

    Raises
    ------
    TierwiseError
        When scores.parquet does not match the manifest.
    """
    path = Path(folder) / "scores.parquet"
    if not path.is_file() or _file_entry(path)["sha256"] != manifest["files"]["scores.parquet"].get("sha256"):
        raise TierwiseError(f"{label}: {path} does not match its manifest.json (changed after the run, or half "
                            "written); re-run that tierwise score or name another run with --previous")
    tiers = pq.read_table(path, columns=["customer_id", "tier", "tier_since"]).to_pandas()
    tiers["tier_since"] = pd.to_datetime(tiers["tier_since"]).astype("datetime64[us]")
    return tiers


DRIFT_FILE = "drift.json"
RUN_FILES = ("manifest.json", "scores.parquet", "outreach.parquet", "control.parquet")


def read_run(folder: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Read a ``tierwise score --out`` folder: its scores, its whole list (contacts, then control) and its manifest.

    Refuses a folder that lacks one of them, or whose files no longer match
    the manifest's sha256 (a half-written or edited run).

    Parameters
    ----------
    folder : str or path
        The ``--out`` folder of a ``tierwise score`` run.

    Returns
    -------
    scores : pandas.DataFrame
        Everyone scored (scores.parquet).
    outreach : pandas.DataFrame
        The contacts followed by the control customers, with the ``control`` column.
    manifest : dict
        The parsed manifest.json.

    Raises
    ------
    TierwiseError
        When the folder is not a run's folder or lacks a file.
    InputDataError
        When the manifest is unreadable or a file does not match it.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise TierwiseError(f"--run: {folder} is not a folder; name the --out folder of a tierwise score run")
    missing = [name for name in RUN_FILES if not (folder / name).is_file()]
    if missing:
        raise TierwiseError(f"--run: {folder} holds no {missing[0]}; name the --out folder of a tierwise score run")
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputDataError(f"{folder / 'manifest.json'}: not a readable manifest ({exc})") from None
    for name in RUN_FILES[1:]:
        entry = manifest.get("files", {}).get(name)
        if entry is None or entry.get("sha256") != _file_entry(folder / name)["sha256"]:
            raise InputDataError(f"{folder / name}: does not match manifest.json (changed after the run, or from "
                                 "another run); re-run tierwise score")
    whole_list = pd.concat(
        [_read_any(folder / "outreach.parquet", None), _read_any(folder / "control.parquet", None)], ignore_index=True
    )
    return _read_any(folder / "scores.parquet", None), whole_list, manifest


def read_run_drift(folder: str | Path) -> dict | None:
    """Read a run's ``drift.json``; refuse one that no longer matches the manifest.

    None when the run has none (scored by an older tierwise, or a model without a drift reference).

    Parameters
    ----------
    folder : str or path
        The ``--out`` folder of a ``tierwise score`` run.

    Returns
    -------
    dict or None
        The drift figures (see :func:`tierwise.monitoring.measure_drift`).

    Raises
    ------
    InputDataError
        When drift.json does not match the manifest or cannot be read.
    """
    folder = Path(folder)
    path = folder / DRIFT_FILE
    if not path.is_file():
        return None
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    entry = manifest.get("files", {}).get(DRIFT_FILE)
    if entry is None or entry.get("sha256") != _file_entry(path)["sha256"]:
        raise InputDataError(f"{path}: does not match manifest.json (changed after the run, or from another run); "
                             "re-run tierwise score")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputDataError(f"{path}: not readable drift figures ({exc})") from None


def write_run_report(folder: str | Path, page: str) -> Path:
    """Write ``report.html`` into a run's folder and add it to the run's manifest; returns the report's path.

    Parameters
    ----------
    folder : str or path
        The ``--out`` folder of a ``tierwise score`` run.
    page : str
        The HTML page.

    Returns
    -------
    Path
        The report.html written.
    """
    return write_run_file(folder, "report.html", page)


def write_run_file(folder: str | Path, name: str, text: str) -> Path:
    """Write the UTF-8 file ``name`` into a run's folder and add it to the run's manifest; returns its path.

    The manifest is removed before the new file is renamed into place and
    written again after, so it never lists another file than the one there.

    Parameters
    ----------
    folder : str or path
        The ``--out`` folder of a ``tierwise score`` run.
    name : str
        The file's name inside the folder.
    text : str
        Its content.

    Returns
    -------
    Path
        The file written.
    """
    folder = Path(folder)
    target, manifest_path = folder / name, folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    with atomic_path(target) as staged:
        staged.write_text(text, encoding="utf-8")
        manifest["files"] = {**manifest.get("files", {}), name: _file_entry(staged)}
        # As in write_export: no manifest while the file is replaced, so none ever disagrees with a file.
        manifest_path.unlink()
    _write_manifest(manifest_path, manifest)
    return target


EVALUATION_FILE = "evaluation.json"


def write_run_evaluation(folder: str | Path, evaluation: dict) -> Path:
    """Write ``evaluation.json`` (sorted keys, no NaN) into a run's folder and add it to the manifest.

    Parameters
    ----------
    folder : str or path
        The ``--out`` folder of a ``tierwise score`` run.
    evaluation : dict
        The figures of ``tierwise evaluate``; NaN becomes null.

    Returns
    -------
    Path
        The evaluation.json written.
    """
    text = json.dumps(evaluation, indent=2, ensure_ascii=False, sort_keys=True, allow_nan=False) + "\n"
    return write_run_file(folder, EVALUATION_FILE, text)


def read_run_evaluation(folder: str | Path, manifest: dict) -> dict | None:
    """The run's ``evaluation.json`` when the manifest lists it, else None.

    A file the manifest does not list (left from an earlier run into the same
    folder, which ``tierwise score`` does not remove) is ignored; one that no
    longer matches the manifest is refused.

    Parameters
    ----------
    folder : str or path
        The ``--out`` folder of a ``tierwise score`` run.
    manifest : dict
        The run's manifest.

    Returns
    -------
    dict or None
        The parsed evaluation.json.

    Raises
    ------
    InputDataError
        When evaluation.json does not match the manifest.
    """
    path = Path(folder) / EVALUATION_FILE
    entry = manifest.get("files", {}).get(EVALUATION_FILE)
    if entry is None:
        return None
    if not path.is_file() or entry.get("sha256") != _file_entry(path)["sha256"]:
        raise InputDataError(f"{path}: does not match manifest.json (changed after tierwise evaluate); "
                             "re-run tierwise evaluate")
    return json.loads(path.read_text(encoding="utf-8"))


_OUTREACH_SETTINGS = ("as_of", "churn_horizon_days", "value_horizon_days")


def read_outreach_list(path: str | Path) -> tuple[pd.DataFrame, dict]:
    """Read a delivered outreach list and the settings it was scored with, for ``tierwise generate --outreach``.

    ``path`` is either the ``--out`` folder of a ``tierwise score`` run (its
    manifest, outreach and control files, checked against the manifest) or an
    outreach file (.csv or .parquet; everyone in it is contacted unless a
    ``control`` column says otherwise) with the run's manifest.json beside it.
    Returns the list (``customer_id``, ``control`` when known) and the
    manifest's ``as_of``, ``churn_horizon_days`` and ``value_horizon_days``.

    Parameters
    ----------
    path : str or path
        A run folder, or an outreach file with the run's manifest.json beside it.

    Returns
    -------
    outreach : pandas.DataFrame
        ``customer_id`` and, when known, the boolean ``control``.
    settings : dict
        ``as_of``, ``churn_horizon_days`` and ``value_horizon_days`` from the manifest.

    Raises
    ------
    TierwiseError
        When the folder lacks a file or no manifest lies beside the file.
    InputDataError
        When the manifest is unreadable or incomplete, or a file does not match it.
    """
    path = Path(path)
    if path.is_dir():
        missing = [name for name in ("manifest.json", "outreach.parquet", "control.parquet") if not (path / name).is_file()]
        if missing:
            raise TierwiseError(f"--outreach: {path} holds no {missing[0]}; name the --out folder of a tierwise score run "
                                "or an outreach file")
        manifest_path = path / "manifest.json"
    else:
        manifest_path = path.parent / "manifest.json"
        if not manifest_path.is_file():
            raise TierwiseError(f"--outreach: no manifest.json beside {path}, so the list's as_of, churn_horizon_days "
                                "and value_horizon_days are unknown; name the run's folder")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputDataError(f"{manifest_path}: not a readable manifest ({exc})") from None
    missing = [key for key in _OUTREACH_SETTINGS if key not in manifest]
    if missing:
        raise InputDataError(f"{manifest_path}: no {', '.join(missing)}; the list's cutoff and horizons are unknown")
    if not path.is_dir():
        return _read_any(path, None), {key: manifest[key] for key in _OUTREACH_SETTINGS}
    for name in ("outreach.parquet", "control.parquet"):
        entry = manifest.get("files", {}).get(name)
        if entry is None or entry.get("sha256") != _file_entry(path / name)["sha256"]:
            raise InputDataError(f"{path / name}: does not match manifest.json (changed after the run, or from "
                                 "another run); re-run tierwise score")
    listed = pd.concat([_read_any(path / name, None) for name in ("outreach.parquet", "control.parquet")], ignore_index=True)
    return listed, {key: manifest[key] for key in _OUTREACH_SETTINGS}


def write_outreach_truth(summary: dict, outcomes: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Write a simulated outreach's truth into ``out_dir``.

    The true effects go to ``outreach_effect.json`` and each listed customer's potential outcomes to
    ``outreach_truth.parquet``.

    Parameters
    ----------
    summary : dict
        The true effects of the simulated outreach.
    outcomes : pandas.DataFrame
        Each listed customer's potential outcomes, with and without contact.
    out_dir : str or path
        The folder; created if needed.

    Returns
    -------
    list of Path
        The files written: outreach_effect.json and outreach_truth.parquet.
    """
    out_dir = Path(out_dir)
    text = json.dumps(summary, indent=2, ensure_ascii=False) + "\n"
    return [
        write_parquet(outcomes, out_dir / "outreach_truth.parquet"),
        _write_atomically(out_dir / "outreach_effect.json", lambda tmp: tmp.write_text(text, encoding="utf-8")),
    ]
