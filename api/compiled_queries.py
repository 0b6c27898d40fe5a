"""Hot-path statements compiled to SQL once per process, not on every request.

Why: a profile of a reader's two-request read (#19) put more than half of the
web process's CPU in the ORM turning querysets into SQL (filter/exclude clones,
expression resolution, the compiler), against a handful of statements that are
the same on every request but for their parameters. A `CompiledQuery` builds
its queryset with the ORM as before (so the rules stay written once, in the
selectors) and keeps the compiled SQL; later calls put the new parameters into
it and run it through Django's own compiler objects (same converters, same
model instances).

Only parameters declared as slots may vary: the builder receives sentinel
values for them, and must use them only as query parameters (no arithmetic,
no branching on them: kept SQL would freeze what that computed). The query is compiled twice with two sets of sentinels; a
parameter that differs between the two and is not a slot (a cutoff computed in
Python from `now`, say) makes the statement uncacheable, and it keeps running
through the ORM; so does one whose SQL or parameters, built a third time with
the first call's own values, differ from what the sentinels showed. Anything else the builder reads (settings rows, roles) is
baked into the SQL, so it must be part of the key the caller passes.

Compiled statements are kept per thread and database connection object
(Django's connections are per thread), so a compiler is never shared between
threads, and they go with the thread.
"""

from __future__ import annotations

import builtins
import copy
import datetime as dt
import itertools
import logging
import threading
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, cast

from django.db import connections
from django.db.models import QuerySet
from django.db.models.sql.compiler import SQLCompiler

logger = logging.getLogger(__name__)

_SENTINEL_BASE = (8_123_456_000_000, 8_123_987_000_000)  # ints no real row id or count comes near
_EPOCH = (dt.datetime(2991, 3, 7, tzinfo=dt.UTC), dt.datetime(2993, 5, 11, tzinfo=dt.UTC))


class Slots:
    """Sentinel values handed to a builder; one per declared parameter name."""

    def __init__(self, which: int) -> None:
        self._which = which
        self._values: dict[builtins.str, Any] = {}
        self._kinds: dict[builtins.str, str] = {}
        self._counter = itertools.count(1)

    def _take(self, name: builtins.str, kind: builtins.str, value: Any) -> Any:
        if name not in self._values:
            self._values[name], self._kinds[name] = value, kind
        return self._values[name]

    def int(self, name: builtins.str) -> int:
        return self._take(name, "int", _SENTINEL_BASE[self._which] + next(self._counter))

    def str(self, name: builtins.str) -> builtins.str:
        return self._take(name, "str", f"\x1fslot{self._which}:{name}\x1f")

    def datetime(self, name: builtins.str) -> dt.datetime:
        return self._take(name, "datetime", _EPOCH[self._which] + dt.timedelta(microseconds=next(self._counter)))


class _Compiled:
    __slots__ = ("queryset", "compiler", "sql", "params", "slot_of")

    def __init__(self, queryset: QuerySet[Any], compiler: SQLCompiler, sql: str, params: tuple[Any, ...],
                 slot_of: dict[int, str]) -> None:
        self.queryset, self.compiler, self.sql, self.params, self.slot_of = queryset, compiler, sql, params, slot_of


_UNCACHEABLE = object()


class _PerThread(threading.local):
    """Per thread (Django's connections are per thread; a kept compiler holds its
    thread's connection): {connection object: {(query name, variant): _Compiled | _UNCACHEABLE}}.
    Dropped with the thread (a threaded development server starts one per request)."""

    def __init__(self) -> None:
        self.kept: dict[Any, dict[Hashable, Any]] = {}

    def get(self, connection: Any, default: Any = None) -> Any:
        return self.kept.get(connection, default)

    def setdefault(self, connection: Any, default: dict[Hashable, Any]) -> dict[Hashable, Any]:
        return self.kept.setdefault(connection, default)

    def clear(self) -> None:
        self.kept.clear()


_by_connection = _PerThread()
_enabled = True
_generation = 0  # bumped to forget what every thread kept


def compiled_queries_enabled(value: bool) -> None:
    """Switch the kept SQL off (every call goes through the ORM) or back on; forgets what was kept."""
    global _enabled
    _enabled = value
    compiled_queries_forget()


def compiled_queries_forget() -> None:
    """Forget every kept statement, in every thread (e.g. after a migration changed tables in a running process)."""
    global _generation
    _generation += 1
    _by_connection.clear()


class CompiledQuery:
    """`CompiledQuery(name, build)`; `query.run(variant, **params)` returns the
    list that iterating the built queryset gives (model instances, tuples, values).

    `build(slots, **variant)` returns the queryset, taking every parameter that
    varies from `slots.int/str/datetime(name)`. `variant` (a dict of hashable
    values, passed to `build` as keywords) names everything else the SQL depends
    on (queue order, k, a flag that changes its shape, a setting baked into it):
    each variant is compiled once."""

    def __init__(self, name: str, build: Callable[..., QuerySet[Any]], using: str = "default") -> None:
        self.name, self.build, self.using = name, build, using

    def run(self, variant: Mapping[str, Hashable] | None = None, /, **params: Any) -> list[Any]:
        choices = dict(variant or {})
        if not _enabled:
            return list(self.build(_Real(params), **choices))
        connection = connections[self.using]
        if getattr(_by_connection, "generation", None) != _generation:
            _by_connection.clear()
            _by_connection.generation = _generation
        per_connection = _by_connection.setdefault(connection, {})
        key = (self.name, tuple(sorted(choices.items())))
        entry = per_connection.get(key)
        if entry is None:
            entry = per_connection[key] = self._compile(connection, params, choices)
        if entry is _UNCACHEABLE:
            return list(self.build(_Real(params), **choices))
        return self._execute(entry, connection, params)

    def _compile(self, connection: Any, params: dict[str, Any], choices: dict[str, Hashable]) -> Any:
        built = []
        for which in (0, 1):
            slots = Slots(which)
            qs = self.build(slots, **choices)
            compiler = qs.query.get_compiler(using=self.using)
            try:
                sql, sql_params = compiler.as_sql()
            except Exception:  # EmptyResultSet and the like: the ORM path handles them
                return _UNCACHEABLE
            built.append((slots, qs, compiler, sql, tuple(sql_params)))
        (slots_a, qs_a, compiler_a, sql_a, params_a), (slots_b, _, _, sql_b, params_b) = built
        if sql_a != sql_b or len(params_a) != len(params_b) or set(slots_a._values) != set(params):
            logger.warning("compiled query %s: its SQL depends on the values or the slots differ from the call; "
                           "it runs through the ORM", self.name)
            return _UNCACHEABLE
        forms_a = {_db_form(connection, v): name for name, v in slots_a._values.items()}
        forms_b = {_db_form(connection, v): name for name, v in slots_b._values.items()}
        slot_of: dict[int, str] = {}
        for i, (a, b) in enumerate(zip(params_a, params_b, strict=True)):
            if a == b and not (_hashable(a) and a in forms_a):
                continue  # a constant of the statement
            name = forms_a.get(a) if _hashable(a) else None
            if name is None or not _hashable(b) or forms_b.get(b) != name:
                logger.warning("compiled query %s: parameter %d is computed from a slot; it runs through the ORM",
                               self.name, i)
                return _UNCACHEABLE
            slot_of[i] = name
        # Third: the call's own values must give the same statement, with its values in the
        # slots' places (a builder that branches on a value, or does arithmetic with it, that
        # two sentinels did not expose).
        try:
            sql_real, params_real = self.build(_Real(params), **choices).query.get_compiler(using=self.using).as_sql()
        except Exception:
            return _UNCACHEABLE
        expected = [(_db_form(connection, params[slot_of[i]]) if i in slot_of else p) for i, p in enumerate(params_a)]
        if sql_real != sql_a or list(params_real) != expected:
            logger.warning("compiled query %s: the call's own values give another statement; it runs through the ORM",
                           self.name)
            return _UNCACHEABLE
        return _Compiled(qs_a, compiler_a, sql_a, params_a, slot_of)

    def _execute(self, entry: _Compiled, connection: Any, params: dict[str, Any]) -> list[Any]:
        values = list(entry.params)
        for i, name in entry.slot_of.items():
            values[i] = _db_form(connection, params[name])
        sql, bound = entry.sql, tuple(values)
        compiler = copy.copy(entry.compiler)
        compiler.as_sql = lambda *args, **kwargs: (sql, bound)  # type: ignore[method-assign]
        # A shallow copy by hand: copy.copy() of a QuerySet pickles it, which runs it.
        queryset = entry.queryset.__class__.__new__(entry.queryset.__class__)
        queryset.__dict__ = {**entry.queryset.__dict__, "_result_cache": None,
                             "_query": _QueryWithCompiler(entry.queryset.query, compiler)}
        rows = cast(Iterable[Any], queryset._iterable_class(queryset))  # type: ignore[attr-defined]
        return list(rows)


class _QueryWithCompiler:
    """The compiled query, handing out the compiler that carries this call's parameters."""

    def __init__(self, query: Any, compiler: SQLCompiler) -> None:
        self._query, self._compiler = query, compiler

    def get_compiler(self, *args: Any, **kwargs: Any) -> SQLCompiler:
        return self._compiler

    def __getattr__(self, name: str) -> Any:
        return getattr(self._query, name)


class _Real:
    """What a builder gets on the ORM path: the real values under the slot names."""

    def __init__(self, params: dict[builtins.str, Any]) -> None:
        self._params = params

    def int(self, name: builtins.str) -> int:
        return self._params[name]

    def str(self, name: builtins.str) -> builtins.str:
        return self._params[name]

    def datetime(self, name: builtins.str) -> dt.datetime:
        return self._params[name]


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _db_form(connection: Any, value: Any) -> Any:
    """A parameter as the compiler hands it to the driver (datetimes are text on SQLite)."""
    if isinstance(value, dt.datetime):
        return connection.ops.adapt_datetimefield_value(value)
    return value
