"""A temporary SQLite file holding an import's validated rows until they are written.

Plain Python, no Django. The importer reads the report file once, de-identifies
and splits each row as it goes, and spools the rows here instead of keeping them
in memory or reading the file a second time: memory stays flat in the file size
(the spool's page cache is bounded), and the checks that need every row (the
same id twice in the file, an id already stored) are SQL over the spool. The
file lives in the system's temporary directory (TMPDIR), about 1.4 times the
size of the report file, and is removed when the import ends.

Rows keep their file order (`rowid`); each has a state: NEW (to be written),
REPEAT (a later row with an id already seen in this file) or STORED (the id is
already in the database; the importer looked it up while reading).
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Iterator
from types import TracebackType

NEW, REPEAT, STORED = 0, 1, 2

# What the importer stores per report besides the file line, id and text hash;
# None where a row is only checked (the file already failed).
PAYLOAD_COLUMNS = ("patient_id", "study_date", "metadata", "text", "redacted_kinds", "sections")

# (line, key, sha of the text, sha of the report stored under the key or None, *PAYLOAD_COLUMNS)
SpooledRow = tuple[int, str, str, str | None, str | None, str | None, str | None, str | None, str | None, str | None]


class ImportSpool:
    """``with ImportSpool() as spool: spool.add(row); ...; spool.finish_adding()``."""

    BATCH = 2000

    def __init__(self, directory: str | None = None) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="chexgold-import-", dir=directory)
        self.path = os.path.join(self._dir.name, "spool.sqlite3")
        self._db = sqlite3.connect(self.path, isolation_level=None)
        # A scratch file: no journal, no fsync; a bounded page cache (16 MiB) keeps memory flat.
        self._db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-16000; PRAGMA temp_store=FILE;"
            "CREATE TABLE row (line INTEGER NOT NULL, key TEXT NOT NULL, sha TEXT NOT NULL, stored_sha TEXT,"
            " state INTEGER NOT NULL DEFAULT 0,"
            + ", ".join(PAYLOAD_COLUMNS)
            + ");"
        )
        self._pending: list[SpooledRow] = []
        self._sql = f"INSERT INTO row (line, key, sha, stored_sha, {', '.join(PAYLOAD_COLUMNS)}) VALUES ({', '.join('?' * 10)})"
        self._db.execute("BEGIN")

    def __enter__(self) -> ImportSpool:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()
        self._dir.cleanup()

    def add(self, row: SpooledRow) -> None:
        """A `SpooledRow`, in file order."""
        self._pending.append(row)
        if len(self._pending) >= self.BATCH:
            self._db.executemany(self._sql, self._pending)
            self._pending.clear()

    def finish_adding(self) -> None:
        if self._pending:
            self._db.executemany(self._sql, self._pending)
            self._pending.clear()
        self._db.execute("COMMIT")

    def repeats(self) -> list[tuple[int, str, str, int, str]]:
        """Every row whose id an earlier row of the file has, in file order, as
        (line, key, sha, line of the first row with that key, its sha); marks them REPEAT."""
        repeated = self._db.execute("SELECT 1 FROM row GROUP BY key HAVING COUNT(*) > 1 LIMIT 1").fetchone()
        if repeated is None:  # the usual case: no join to plan
            return []
        found = self._db.execute(
            "SELECT r.rowid, r.line, r.key, r.sha, f.line, f.sha"
            " FROM (SELECT key, MIN(rowid) AS first FROM row GROUP BY key HAVING COUNT(*) > 1) AS d"
            " JOIN row AS f ON f.rowid = d.first JOIN row AS r ON r.key = d.key AND r.rowid > d.first"
            " ORDER BY r.rowid"
        ).fetchall()
        self._db.executemany(f"UPDATE row SET state = {REPEAT} WHERE rowid = ?", [(r[0],) for r in found])
        return [(line, key, sha, first_line, first_sha) for _rowid, line, key, sha, first_line, first_sha in found]

    def mark_stored(self) -> list[tuple[int, str]]:
        """Marks STORED the first rows whose id the database holds (call after
        `repeats`); returns (line, key) of those it holds with another text."""
        conflicts = self._db.execute(
            f"SELECT line, key FROM row WHERE state = {NEW} AND stored_sha IS NOT NULL AND stored_sha != sha ORDER BY rowid"
        ).fetchall()
        self._db.execute(f"UPDATE row SET state = {STORED} WHERE state = {NEW} AND stored_sha IS NOT NULL")
        return [(line, key) for line, key in conflicts]

    def count_new(self) -> int:
        return int(self._db.execute(f"SELECT COUNT(*) FROM row WHERE state = {NEW}").fetchone()[0])

    def new_rows(self, chunk: int) -> Iterator[list[tuple[object, ...]]]:
        """The rows to write, in file order, `chunk` at a time, as (key, sha, *PAYLOAD_COLUMNS)."""
        cursor = self._db.execute(
            f"SELECT key, sha, {', '.join(PAYLOAD_COLUMNS)} FROM row WHERE state = {NEW} ORDER BY rowid"
        )
        while rows := cursor.fetchmany(chunk):
            yield rows
