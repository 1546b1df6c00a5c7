"""Core statements run on the driver's own cursor, inside a SQLAlchemy transaction.

For the few statements a bulk job runs for every item: SQLAlchemy's execution path (building the statement, its
cache key, an execution context, a result wrapper, each parameter handled in Python) cost several times what the
database itself did, about 0.3 ms a transaction. Each statement is compiled once per dialect, by SQLAlchemy, so its
SQL is what SQLAlchemy would send; its values go through the columns' own bind processors (SQLite's datetimes), so
what is read back is what the ORM would have written. The transaction (begin, commit, rollback on error, the
connection pool) stays SQLAlchemy's.
"""

from __future__ import annotations

import operator
import weakref
from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler


class _Form:
    """A statement as one dialect's driver takes it: its SQL, and each parameter's name and bind processor."""

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
        for name, bind in compiled.binds.items():
            # Values are given at each execution, by name: a literal compiled into the statement would be lost.
            if not bind.required:
                raise ValueError(f"{name}: every parameter must be a bindparam without a value")
        self.sql = compiled.string
        self.positional = compiled.positional
        self.names = list(compiled.positiontup or ()) if self.positional else list(compiled.binds)
        processors = [compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in self.names]
        # Values are taken by one C call, and only those with a processor looked at again: this runs for every row.
        self._take = operator.itemgetter(*self.names) if self.names else (lambda _: ())
        self._single = len(self.names) == 1
        self._processed = [(index, process) for index, process in enumerate(processors) if process is not None]

    def values(self, given: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        taken = self._take(given)
        row = [taken] if self._single else list(taken)
        for index, process in self._processed:
            if row[index] is not None:
                row[index] = process(row[index])
        return row if self.positional else dict(zip(self.names, row))


class Statement:
    """A Core statement whose parameters are all named bindparams, given by name at each execution. Many rows go in
    one statement (a multi-row VALUES, an IN list), not in an executemany: SQLite lets other threads run around each
    step of a statement, so a step a row cost a hand-over of Python's lock a row."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._forms: weakref.WeakKeyDictionary[Dialect, _Form] = weakref.WeakKeyDictionary()

    def _form(self, connection: Connection) -> _Form:
        form = self._forms.get(connection.dialect)
        if form is None:
            form = self._forms[connection.dialect] = _Form(self.statement, connection.dialect)
        return form

    def run(self, connection: Connection, values: Mapping[str, Any]) -> int:
        """Executes it once; the rows it changed."""
        form = self._form(connection)
        cursor = connection.connection.cursor()
        try:
            cursor.execute(form.sql, form.values(values))
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def scalar(self, connection: Connection, values: Mapping[str, Any]) -> Any:
        """The first column of the first row it reads; None without one."""
        form = self._form(connection)
        cursor = connection.connection.cursor()
        try:
            cursor.execute(form.sql, form.values(values))
            row = cursor.fetchone()
            return row[0] if row is not None else None
        finally:
            cursor.close()
