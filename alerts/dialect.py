"""The PostgreSQL/SQLite differences of the alerts app's hand-written SQL, in one place.

The engine's statements (``alerts.engine.statements``) and the outbox's INSERT
(``alerts.delivery.outbox``) are written once; whatever differs between the
two databases they ask of ``dialect()``:

- lists of values: PostgreSQL takes each column as one array parameter, so
  building and sending a statement stays cheap however many rows (a tick binds
  hundreds); SQLite takes a ``VALUES`` list, within its bound-parameter limit;
- the rung tables and the UPDATE that joins alerts to them
  (``rung_tables``, ``rung_update``);
- how much work one statement takes (symbols per UPDATE, ids per INSERT);
- PostgreSQL's per-transaction settings: no JIT for the firing statements, no
  wait for the WAL flush on a commit that only moves the checkpoint (``quiet_commit``).

It sits beside the engine and the delivery room rather than in either, since
both use it and the engine imports the outbox.
"""

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import psycopg
from django.db import connection

# Alert ids per notification INSERT on SQLite: well under its bound-parameter
# limit (32,766). PostgreSQL takes them all as one array parameter.
SQLITE_IDS_PER_STATEMENT = 5000
# Windows per re-arm statement on SQLite (four bound parameters each, under its limit).
SQLITE_WINDOWS_PER_STATEMENT = 5000


@dataclass(frozen=True, slots=True)
class RungTables:
    """The SQL pieces shared by the trigger and re-arm UPDATEs (see ``Dialect.rung_tables``)."""

    ctes: str  # ``rung`` (and the windows) as CTEs
    params: list
    windows: str  # FROM item of the windows of the ``hit`` row's symbol: ``w(t, at, p, n)``
    in_rung: str  # the condition that keeps them to that symbol

    def first(self, column: str, condition: str) -> str:
        """SQL: ``column`` of the earliest window of the alert's symbol that meets ``condition``."""
        return (
            f"(SELECT w.{column} FROM {self.windows} WHERE {self.in_rung} AND {condition}"
            " ORDER BY w.n LIMIT 1)"
        )


@dataclass(frozen=True, slots=True)
class RungUpdate:
    """An UPDATE of the alerts that ``found(row, rung)`` joins to a rung (see ``Dialect.rung_update``).

    ``found`` holds one placeholder, ``found_param``; ``hit`` names the alert's
    rung in ``set_clause``, ``extra_where`` and ``returning``.
    """

    table: str
    tables: RungTables
    found: Callable[[str, str], str]
    found_param: str
    set_clause: str
    returning: str
    extra_where: str = ""
    # PostgreSQL only (``Dialect.updates_in_with``): more CTEs reading the updated rows as
    # ``fired`` (their ``returning`` columns), their params, and the statement's final SELECT.
    then: tuple[str, list, str] | None = None


# The SQL types of a rung's columns: symbol, since, before, price, first window, last window.
RUNG_TYPES = ("text", "timestamptz", "timestamptz", "numeric", "int", "int")


class PostgreSQL:
    """Lists as array parameters; rungs slice one array of windows; JIT and WAL waits tuned."""

    # UPDATE (and INSERT) may run inside WITH: the tick's probe carries the checkpoint's move, and a
    # firing UPDATE writes its Notification rows in the same statement (``RungUpdate.then``).
    updates_in_with = True

    def rows(self, types: Sequence[str], columns: Sequence[Sequence]) -> tuple[str, list]:
        """A row source (``SELECT * FROM ...``) of these columns, of these SQL types."""
        sql, params = self._unnest(types, columns)
        return f"SELECT * FROM {sql}", params

    def id_match(self, column: str, ids: Sequence[int]) -> tuple[str, list]:
        """SQL: ``column`` is one of ``ids``."""
        return f"{column} = ANY(%s::bigint[])", [_number_array(ids)]

    def id_chunks(self, ids: Sequence[int]) -> Iterator[Sequence[int]]:
        """The ids a statement at a time: all of them."""
        if ids:
            yield ids

    def statement_groups(self, by_symbol: dict[str, Sequence], *, search_per_row: bool):
        """The symbols per UPDATE: all at once (one round trip)."""
        yield by_symbol

    def rung_tables(self, windows: Sequence[Sequence], rungs: Sequence[Sequence]) -> RungTables:
        """Every array once as a parameter, sliced per rung.

        ``windows``: the columns (event ms, event time, price) of every symbol's
        windows, one list; ``rungs``: the columns (symbol, since, before, price,
        first, last) of the rungs, ``first``/``last`` indexing ``windows``.
        """
        ctes = """
            w AS (SELECT %s::bigint[] AS t, %s::timestamptz[] AS at, %s::numeric[] AS p),
            rung AS (
                SELECT r.symbol, r.since, r.before, r.price,
                       w.t[r.first:r.last] AS ts, w.at[r.first:r.last] AS ats, w.p[r.first:r.last] AS ps
                FROM w, {rungs} r(symbol, since, before, price, first, last))
        """
        ms, at, price = windows
        rung_sql, rung_params = self._unnest(RUNG_TYPES, rungs)
        return RungTables(
            ctes.format(rungs=rung_sql),
            [_number_array(ms), list(at), _number_array(price), *rung_params],
            windows="unnest(hit.ts, hit.ats, hit.ps) WITH ORDINALITY w(t, at, p, n)",
            in_rung="true",
        )

    def rung_update(self, update: RungUpdate) -> tuple[str, list]:
        """Collect the alerts' ids rung by rung, then update them by primary key.

        LATERAL with OFFSET 0 (kept as a subquery, not flattened into a join): one
        index range per rung. As a join the planner, who cannot know how far each
        rung's price reaches, may scan the whole table instead. The UPDATE then
        joins ``hit`` by primary key only: one index lookup per alert, whether
        the alerts share one symbol or spread over a thousand. The planner
        estimates ``hit`` at one row; offered the conditions as index conditions
        too (``symbol = hit.symbol ...``), it may pick alert_watch_idx instead,
        a range scan of the symbol per alert, quadratic in alerts per symbol
        (10,000 alerts on one symbol took 8.9 s). ``(...) IS TRUE`` keeps them a
        filter (the planner only takes a plain comparison as an index
        condition), with the same meaning in a WHERE. They are repeated at all
        so that a row changed since the statement's snapshot (a concurrent edit)
        is judged again as it is now.
        """
        table, found = update.table, update.found
        change = f"""
            UPDATE {table}
            SET {update.set_clause}
            FROM hit
            WHERE {table}.id = hit.id
              AND ({found(table, "hit")}) IS TRUE {update.extra_where}
            RETURNING {update.returning}
        """
        if update.then is not None:
            # The rows it changed feed the rest of the statement (the outbox's INSERT): one round
            # trip, and the changed rows are not looked up again.
            then, then_params, final = update.then
            change = f", fired AS ({change}), {then} {final}"
        sql = f"""
            WITH {update.tables.ctes},
            hit AS MATERIALIZED (SELECT a.id, rung.* FROM rung CROSS JOIN LATERAL (
                SELECT a.id FROM {table} a WHERE {found("a", "rung")} OFFSET 0) a){change}
        """
        params = [*update.tables.params, update.found_param, update.found_param]
        return sql, params + (then_params if update.then is not None else [])

    def before_firing(self) -> None:
        # The firing statements' estimates (thousands of rows, correlated probes) pass
        # jit_above_cost: compiling them took longer than running them.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")

    def fetch_prepared(self, sql: str, params: list) -> list[tuple]:
        """Run a statement sent every tick as a server-side prepared statement, and return its rows.

        Django's cursors bind parameters on the client and never prepare: every
        statement is planned again. The batch probe is the whole of a no-fire
        tick, and its planning (about 0.6-0.9 ms at 100 moved symbols) and the
        client's quoting of its arrays cost as much as running it; prepared, its
        parameters travel apart and, after five custom plans, PostgreSQL keeps a
        generic one (the probe's plan does not depend on the values). The
        statement goes through Django's cursor wrapper (execute wrappers, the
        query log), on a psycopg cursor of the same connection and transaction.
        """
        connection.ensure_connection()
        raw = connection.connection
        cursor = psycopg.Cursor(raw)
        wrapped = (
            connection.make_debug_cursor(cursor)
            if connection.queries_logged
            else connection.make_cursor(cursor)
        )
        threshold = raw.prepare_threshold
        # 0: prepare this statement at its first run (None, Django's setting, disables preparing).
        raw.prepare_threshold = 0
        try:
            with wrapped:
                wrapped.execute(sql, params)
                return wrapped.fetchall()
        finally:
            raw.prepare_threshold = threshold

    def quiet_commit(self) -> str:
        """SQL condition (always true) that lets this transaction commit without waiting for the WAL flush.

        For a tick that changed nothing but its checkpoint: losing that in a
        database crash just re-reads windows that fired nothing (alerts made
        since are younger than them), so it need not wait for the flush, which
        is most of a quiet tick's cost. A commit that fires stays durable. A
        condition rather than a statement of its own (``SET LOCAL``): the
        checkpoint UPDATE carries it, one round trip fewer.
        """
        return "set_config('synchronous_commit', 'off', true) IS NOT NULL"

    def durable_commit(self) -> None:
        """Undo ``quiet_commit`` for this transaction: it fired, its commit waits for the WAL flush."""
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO ON")

    def computed_datetime(self, value) -> datetime | None:
        """A datetime the database computed (MIN(...)), as a datetime."""
        return value

    def _unnest(self, types: Sequence[str], columns: Sequence[Sequence]) -> tuple[str, list]:
        params = [
            list(column) if kind in ("text", "timestamptz") else _number_array(column)
            for kind, column in zip(types, columns, strict=True)
        ]
        return f"unnest({', '.join(f'%s::{kind}[]' for kind in types)})", params


class SQLite:
    """Lists as VALUES rows within the bound-parameter limit; one symbol per trigger statement."""

    # No UPDATE inside a WITH clause: the checkpoint's move and the outbox's INSERT are statements of
    # their own.
    updates_in_with = False

    # The placeholder of a value of each SQL type in a VALUES list.
    PLACEHOLDERS = {
        "text": "%s",
        "timestamptz": "%s",
        "numeric": "CAST(%s AS NUMERIC)",
        "bigint": "CAST(%s AS INTEGER)",
        "int": "%s",
    }

    def rows(self, types: Sequence[str], columns: Sequence[Sequence]) -> tuple[str, list]:
        """A row source (``VALUES ...``) of these columns, of these SQL types."""
        adapt = [self._adapter(kind) for kind in types]
        row = "(" + ", ".join(self.PLACEHOLDERS[kind] for kind in types) + ")"
        params = []
        count = 0
        for values in zip(*columns, strict=True):
            params += [to_db(value) for to_db, value in zip(adapt, values, strict=True)]
            count += 1
        return "VALUES " + ", ".join([row] * count), params

    def id_match(self, column: str, ids: Sequence[int]) -> tuple[str, list]:
        """SQL: ``column`` is one of ``ids`` (at most ``SQLITE_IDS_PER_STATEMENT`` of them)."""
        if not ids:
            return "1 = 0", []
        return f"{column} IN ({', '.join(['%s'] * len(ids))})", list(ids)

    def id_chunks(self, ids: Sequence[int]) -> Iterator[Sequence[int]]:
        """The ids a statement at a time, within the bound-parameter limit."""
        for start in range(0, len(ids), SQLITE_IDS_PER_STATEMENT):
            yield ids[start : start + SQLITE_IDS_PER_STATEMENT]

    def statement_groups(self, by_symbol: dict[str, Sequence], *, search_per_row: bool):
        """The symbols per UPDATE.

        SQLite has no round trip to save, and cannot index the windows list that the
        UPDATE searches per row: a trigger (whose repeating alerts all search it)
        goes symbol by symbol, keeping that list a few rows long; a re-arm (only the
        few alerts that may re-arm search it) takes as many symbols as the
        bound-parameter limit allows.
        """
        if search_per_row:
            for symbol, windows in by_symbol.items():
                yield {symbol: windows}
            return
        group: dict[str, Sequence] = {}
        size = 0
        for symbol, windows in by_symbol.items():
            if group and size + len(windows) > SQLITE_WINDOWS_PER_STATEMENT:
                yield group
                group, size = {}, 0
            group[symbol] = windows
            size += len(windows)
        if group:
            yield group

    def rung_tables(self, windows: Sequence[Sequence], rungs: Sequence[Sequence]) -> RungTables:
        """VALUES lists: the windows numbered, each rung naming its first and last window."""
        ms = windows[0]
        window_rows, window_params = self.rows(
            ("int", "bigint", "timestamptz", "numeric"), (range(1, len(ms) + 1), *windows)
        )
        rung_rows, rung_params = self.rows(RUNG_TYPES, rungs)
        return RungTables(
            f"""
            w(n, t, at, p) AS ({window_rows}),
            rung(symbol, since, before, price, first, last) AS ({rung_rows})
        """,
            [*window_params, *rung_params],
            windows="w",
            in_rung="w.n BETWEEN hit.first AND hit.last",
        )

    def rung_update(self, update: RungUpdate) -> tuple[str, list]:
        """Join the rungs directly (one writer, one symbol at a time)."""
        sql = f"""
            WITH {update.tables.ctes}
            UPDATE {update.table}
            SET {update.set_clause}
            FROM rung AS hit
            WHERE {update.found(update.table, "hit")} {update.extra_where}
            RETURNING {update.returning}
        """
        return sql, [*update.tables.params, update.found_param]

    def before_firing(self) -> None:
        """Nothing to set: SQLite has no JIT."""

    def fetch_prepared(self, sql: str, params: list) -> list[tuple]:
        """Run the statement and return its rows (sqlite3 caches the compiled statements itself)."""
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def quiet_commit(self) -> str:
        """Always true: the commit's durability is the journal mode's."""
        return "1 = 1"

    def durable_commit(self) -> None:
        """Nothing to undo."""

    def computed_datetime(self, value) -> datetime | None:
        """A datetime the database computed (MIN(...)): SQLite returns the raw column text."""
        if isinstance(value, str):
            return connection.ops.convert_datetimefield_value(value, None, connection)
        return value

    def _adapter(self, kind: str):
        if kind == "numeric":
            return connection.ops.adapt_decimalfield_value
        if kind == "timestamptz":
            return connection.ops.adapt_datetimefield_value
        return _same


Dialect = PostgreSQL | SQLite
_DIALECTS = {"postgresql": PostgreSQL(), "sqlite": SQLite()}


def dialect() -> Dialect:
    """The dialect of the default database connection."""
    return _DIALECTS[connection.vendor]


def _same(value):
    return value


def _number_array(values: Iterable[Decimal | int]) -> str:
    """A PostgreSQL array literal of numbers, for a ``%s::numeric[]`` or ``%s::bigint[]`` parameter.

    Exact (a Decimal's own digits) and several times cheaper than adapting each
    element: a tick binds hundreds of them.
    """
    return "{" + ",".join(map(str, values)) + "}"
