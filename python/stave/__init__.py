"""stave from Python: a music-listening event store, queried in-process.

The queries run stave's engine in this process, through its C interface
(libStaveC.so), and hand back Arrow data: every query returns a
``pyarrow.Table`` with the columns of the CLI's answer (the same code path,
so the same numbers), and ``Store.scan`` streams the events as a
``pyarrow.RecordBatchReader`` that DuckDB and Polars read directly.

>>> import stave, duckdb, polars as pl
>>> store = stave.open("music.stave")
>>> profile = pl.from_arrow(store.profile(level="Gold", start="2014-12-01"))
>>> events = store.scan(columns=["customer_id", "datetime"])
>>> duckdb.sql("select customer_id, count(*) from events group by 1").fetchall()

Ranges are half-open: ``start`` is included, ``end`` is not (as the CLI's
``--from`` and ``--to``). A bound is a ``datetime.date``, a
``datetime.datetime`` (no time zone: the store's datetimes are local time)
or a string, ``2014-12-01``, ``2014-12-01 10:00`` or ``2014-12-01T10:00:00``.

Errors raise subclasses of ``StaveError`` that carry the CLI's message and
exit code (``code``): ``StoreError`` for a missing or damaged store,
``UsageError`` (also a ``ValueError``) for a bad parameter, ``InputError``
for a malformed input row, ``NotFoundError``, ``OutputExistsError``,
``BusyError``, ``StaveIOError``, ``InternalError``.
"""

import ctypes
import datetime as _dt
import json
import threading
from typing import Dict, Iterable, Optional, Sequence, Union

import pyarrow as pa

from . import _native
from ._native import (BusyError, InputError, InternalError, NotFoundError, OutputExistsError,
                      StaveError, StaveIOError, StoreError, UsageError)

__all__ = ["open", "convert", "Store", "StaveError", "UsageError", "InputError", "StoreError",
           "NotFoundError", "InternalError", "OutputExistsError", "StaveIOError", "BusyError",
           "__version__"]

__version__ = _native.lib.stave_version().decode()

Bound = Union[str, _dt.date, _dt.datetime, None]
Codes = Union[str, int, Iterable[Union[str, int]], None]
Customers = Union[int, str, Iterable[int], None]

_EVENT_COLUMNS = ("event_id", "customer_id", "track_id", "datetime", "mobile", "listening_zip")


def _bound(name: str, value: Bound) -> Optional[str]:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            raise UsageError(f"{name}: {value!r} has a time zone; the store's datetimes are local time without one")
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, _dt.date):
        return value.isoformat()
    raise UsageError(f"{name}: {value!r} is not a date, a datetime or a string")


def _list(name: str, value) -> Optional[str]:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, bool)):
        return str(int(value))
    try:
        items = list(value)
    except TypeError:
        raise UsageError(f"{name}: {value!r} is not a value or a list of values") from None
    if not items:
        raise UsageError(f"{name}: an empty list selects nothing; leave it out (None) to select everything")
    return ",".join(str(int(v)) if isinstance(v, (int, bool)) else str(v) for v in items)


def _flag(value: Optional[bool]) -> Optional[str]:
    return None if value is None else ("true" if value else "false")


def _number(value: Optional[int]) -> Optional[str]:
    return None if value is None else str(int(value))


def _scope(start, end, customers, level=None, campaign=None, gender=None, status=None, names=None) -> Dict[str, Optional[str]]:
    return {
        "from": _bound("start", start), "to": _bound("end", end), "customer": _list("customers", customers),
        "level": _list("level", level), "campaign": _list("campaign", campaign),
        "gender": _list("gender", gender), "status": _list("status", status), "names": names,
    }


def _summary(code, summary, error) -> dict:
    if code:
        _native.raise_for(code, error)
    return json.loads(_native.take_string(summary) or "{}")


class Store:
    """An open store. Each query sees the store's latest commit (appends by
    this or any other process). Safe to share between threads; queries run
    without the GIL. Close it with ``close()`` or a ``with`` block (or let
    it be collected)."""

    def __init__(self, path: str, threads: Optional[int] = None):
        self.path = str(path)
        handle = ctypes.c_void_p()
        error = ctypes.c_void_p()
        code = _native.lib.stave_open(self.path.encode(), int(threads or 0), ctypes.byref(handle), ctypes.byref(error))
        if code:
            _native.raise_for(code, error)
        self._handle = handle
        self._lock = threading.Lock()
        self._users = 0
        self._closing = False

    # -- lifetime: a close while other threads query waits for them to end

    def close(self) -> None:
        """Closes the store (tables and readers already returned stay valid)."""
        with self._lock:
            if self._handle is None or self._closing:
                return
            self._closing = True
            if self._users == 0:
                self._release()

    def _release(self):
        _native.lib.stave_close(self._handle)
        self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_handle", None) is not None:
            _native.lib.stave_close(self._handle)
            self._handle = None

    def __repr__(self):
        return f"stave.Store({self.path!r})" + ("" if self._handle is not None and not self._closing else " (closed)")

    def _use(self, call):
        with self._lock:
            if self._handle is None or self._closing:
                raise UsageError(f"the store {self.path} is closed")
            self._users += 1
            handle = self._handle
        try:
            return call(handle)
        finally:
            with self._lock:
                self._users -= 1
                if self._closing and self._users == 0 and self._handle is not None:
                    self._release()

    def _query(self, endpoint: str, params: Dict[str, Optional[str]]) -> pa.Table:
        n, names, values = _native.parameters(params)
        stream = _native.ArrowArrayStream()
        error = ctypes.c_void_p()

        def call(handle):
            code = _native.lib.stave_query(handle, endpoint.encode(), n, names, values, ctypes.byref(stream), ctypes.byref(error))
            if code:
                _native.raise_for(code, error)
            return _native.import_stream(stream).read_all()
        return self._use(call)

    # -- queries

    def profile(self, start: Bound = None, end: Bound = None, customers: Customers = None, level: Codes = None,
                campaign: Codes = None, gender: Codes = None, status: Codes = None, with_customers: bool = False,
                sort: Optional[str] = None, order: Optional[str] = None, limit: Optional[int] = None,
                offset: Optional[int] = None, names: Optional[str] = None) -> pa.Table:
        """Per customer: unique_tracks, plays per part of the day (morning,
        afternoon, evening, night), mobile_plays and plays; every customer
        with a play in range, in customer order unless ``sort`` (a column)
        and ``order`` ("asc", "desc") say otherwise. ``with_customers`` adds
        the customer table's attributes. As ``stave profile``.

        >>> store.profile(level="Gold", start="2014-12-01", end="2015-01-01")
        >>> store.profile(sort="plays", order="desc", limit=10)
        """
        params = _scope(start, end, customers, level, campaign, gender, status, names)
        params.update({"with_customers": _flag(with_customers) if with_customers else None, "sort": sort,
                       "order": order, "limit": _number(limit), "offset": _number(offset)})
        return self._query("profile", params)

    def stats(self, start: Bound = None, end: Bound = None, customers: Customers = None, level: Codes = None,
              campaign: Codes = None, gender: Codes = None, status: Codes = None, names: Optional[str] = None) -> pa.Table:
        """Column statistics of the profile (Spark MLlib's colStats): one row
        per profile column with count, mean, variance, stddev, min, max,
        num_nonzeros, norm_l1, norm_l2. As ``stave stats``.

        >>> store.stats(start="2014-11-01").to_pylist()
        """
        return self._query("stats", _scope(start, end, customers, level, campaign, gender, status, names))

    def breakdown(self, by: str, start: Bound = None, end: Bound = None, customers: Customers = None,
                  level: Codes = None, campaign: Codes = None, gender: Codes = None, status: Codes = None,
                  names: Optional[str] = None) -> pa.Table:
        """Listening per group of customers: ``by`` is level, campaign,
        gender, status, linked_apps or sign_month. Needs the customer table.
        As ``stave breakdown``.

        >>> store.breakdown("level")
        """
        params = _scope(start, end, customers, level, campaign, gender, status, names)
        params["by"] = by
        return self._query("breakdown", params)

    def hours(self, by: Optional[str] = None, per: str = "hour", start: Bound = None, end: Bound = None,
              customers: Customers = None, level: Codes = None, campaign: Codes = None, gender: Codes = None,
              status: Codes = None, names: Optional[str] = None) -> pa.Table:
        """Plays per hour of the day (``per="part"``: per part of the day),
        optionally per group of customers (``by``, as for breakdown). As
        ``stave hours``.

        >>> store.hours(by="level", per="part")
        """
        params = _scope(start, end, customers, level, campaign, gender, status, names)
        params.update({"by": by, "per": per})
        return self._query("hours", params)

    def top_zips(self, limit: int = 10, start: Bound = None, end: Bound = None, customers: Customers = None,
                 level: Codes = None, campaign: Codes = None, gender: Codes = None, status: Codes = None,
                 names: Optional[str] = None) -> pa.Table:
        """The listening zips with the most plays. As ``stave top-zips``.

        >>> store.top_zips(5, start="2014-12-01")
        """
        params = _scope(start, end, customers, level, campaign, gender, status, names)
        params["limit"] = _number(limit)
        return self._query("top-zips", params)

    def summary(self, start: Bound = None, end: Bound = None, customers: Customers = None, level: Codes = None,
                campaign: Codes = None, gender: Codes = None, status: Codes = None,
                names: Optional[str] = None) -> pa.Table:
        """One row: customers, plays, mobile plays, first and last play and
        the store's totals. As ``stave summary``.

        >>> store.summary().to_pylist()[0]["plays"]
        """
        return self._query("summary", _scope(start, end, customers, level, campaign, gender, status, names))

    def customer(self, id: int, start: Bound = None, end: Bound = None, names: Optional[str] = None) -> pa.Table:
        """One customer's profile and attributes (one row); NotFoundError if
        the store knows nothing of them. As ``stave customer``."""
        return self._query("customer", {"id": str(int(id)), "from": _bound("start", start), "to": _bound("end", end),
                                        "names": names})

    def scan(self, columns: Optional[Sequence[str]] = None, start: Bound = None, end: Bound = None,
             customers: Customers = None) -> pa.RecordBatchReader:
        """The store's events as a stream of record batches, one per row
        group the range and customers keep (groups their statistics rule out
        are not read). Columns, typed as ``stave export --format parquet``
        types them: event_id, customer_id, track_id (int64), datetime
        (timestamp[us]), mobile (int32), listening_zip (string). Memory: one
        row group at a time; a reader can be read once. A damaged chunk
        found while the stream is read fails that read with the consumer's
        error (pyarrow's OSError) carrying stave's message.

        >>> duckdb.sql("select count(*) from reader")        # reader = store.scan()
        >>> polars.from_arrow(store.scan(columns=["customer_id", "mobile"]))
        """
        if columns is not None:
            if isinstance(columns, str):
                columns = [columns]
            columns = ",".join(columns)
        n, names, values = _native.parameters({"columns": columns, "from": _bound("start", start),
                                               "to": _bound("end", end), "customer": _list("customers", customers)})
        stream = _native.ArrowArrayStream()
        error = ctypes.c_void_p()

        def call(handle):
            code = _native.lib.stave_scan(handle, n, names, values, ctypes.byref(stream), ctypes.byref(error))
            if code:
                _native.raise_for(code, error)
            return _native.import_stream(stream)
        return self._use(call)

    # -- writing

    def append(self, input: str, skip_bad_rows: bool = False, rejects: Optional[str] = None,
               max_errors: Optional[int] = None, header: Optional[bool] = None, allow_duplicate_ids: bool = False,
               compact: bool = True, threads: Optional[int] = None) -> dict:
        """Appends the events of a CSV (plain, gzip or zstd) or Parquet file
        to the store, atomically, as ``stave append`` does: the first bad row
        raises InputError and nothing is added (``skip_bad_rows`` sets bad
        rows aside, in ``rejects``); an event id already in the store is an
        error unless ``allow_duplicate_ids``. Returns the summary (rows,
        rejected, parts, ...). Later queries see the new rows.

        >>> store.append("today.csv")["rows"]
        """
        n, names, values = _native.parameters({
            "skip_bad_rows": _flag(skip_bad_rows), "rejects": rejects, "max_errors": _number(max_errors),
            "header": _flag(header), "allow_duplicate_ids": _flag(allow_duplicate_ids), "compact": _flag(compact),
            "threads": _number(threads)})
        summary, error = ctypes.c_void_p(), ctypes.c_void_p()
        return self._use(lambda handle: _summary(
            _native.lib.stave_append(handle, str(input).encode(), n, names, values, ctypes.byref(summary), ctypes.byref(error)),
            summary, error))


def open(path: str, threads: Optional[int] = None) -> Store:
    """Opens the store directory ``path`` for queries (``threads``: how many
    the queries use; default one per processor). A missing or damaged store
    raises StoreError naming it.

    >>> store = stave.open("music.stave")
    """
    return Store(path, threads)


def convert(input: str, output: str, customers: Optional[str] = None, force: bool = False,
            skip_bad_rows: bool = False, rejects: Optional[str] = None, max_errors: Optional[int] = None,
            header: Optional[bool] = None, allow_duplicate_ids: bool = False, zstd_level: int = 3,
            threads: Optional[int] = None) -> dict:
    """Converts an events CSV (tracks.csv; plain, gzip or zstd) or Parquet
    file into a new store, as ``stave convert`` does, with the customer
    table from ``customers`` (cust.csv) if given. The first malformed row
    raises InputError naming file, line and column, and nothing is written;
    ``force`` replaces an existing store (never anything else). Returns the
    summary (rows, rejected, parts, input_bytes, output_bytes, seconds,
    customers, ...).

    >>> stave.convert("tracks.csv", "music.stave", customers="cust.csv")["rows"]
    """
    n, names, values = _native.parameters({
        "customers": customers, "force": _flag(force), "skip_bad_rows": _flag(skip_bad_rows), "rejects": rejects,
        "max_errors": _number(max_errors), "header": _flag(header), "allow_duplicate_ids": _flag(allow_duplicate_ids),
        "zstd_level": _number(zstd_level), "threads": _number(threads)})
    summary, error = ctypes.c_void_p(), ctypes.c_void_p()
    code = _native.lib.stave_convert(str(input).encode(), str(output).encode(), n, names, values,
                                     ctypes.byref(summary), ctypes.byref(error))
    return _summary(code, summary, error)
