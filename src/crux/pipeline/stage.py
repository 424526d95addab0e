"""The stage interface and its incremental driver.

A stage turns documents into rows of its own tables. The driver finds the documents whose
current ``content_hash`` has no output yet at the stage's ``version`` (an anti-join on
``_stage_state``), hands them to :meth:`Stage.process` in batches, one transaction per batch,
and records a ``_runs`` row. A second run finds nothing to do; ``force`` redoes everything.
A batch that fails rolls back alone: what earlier batches wrote stays, and the next run
resumes where this one stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ..db import record_run
from ..db.tx import scalar, transaction
from ..db.tx import utcnow as _now

if TYPE_CHECKING:
    import duckdb


@dataclass
class PendingDoc:
    id: str
    content_hash: str


@dataclass
class StageResult:
    stage: str
    docs: int = 0  # documents processed now
    rows_out: int = 0  # rows written
    up_to_date: int = 0  # documents that needed no work
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # CPU time of this process (every thread) while the stage ran
    note: str = ""

    def summary(self) -> str:
        extra = f"; {self.note}" if self.note else ""
        cpu = f", CPU {self.cpu_seconds:.1f}s" if self.cpu_seconds else ""
        return (
            f"{self.stage}: {self.docs} documents processed, {self.rows_out} rows, "
            f"{self.up_to_date} up to date ({self.seconds:.1f}s{cpu}){extra}"
        )


Progress = Callable[[int], Any]


class Stage:
    """Subclass and set ``name``, ``version``, ``reads``, ``writes``; implement :meth:`process`."""

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    reads: ClassVar[tuple[str, ...]] = ("documents",)
    writes: ClassVar[tuple[str, ...]] = ()
    after: ClassVar[tuple[str, ...]] = ()  # stages whose output for a document must be current
    # Stages whose output this one reads: when one of them rewrote a document's rows after this
    # stage did, the document is redone (e.g. embed after claims).
    inputs: ClassVar[tuple[str, ...]] = ()
    batch_size: ClassVar[int] = 64
    # Optional query of ``(id, content_hash)`` for documents already processed that must be
    # redone anyway (e.g. a link target arrived later); added to the backlog unless forced.
    stale_sql: ClassVar[str | None] = None

    def setup(self, con: duckdb.DuckDBPyConnection) -> None:
        """Load models etc.; called once per run, only when there is work."""

    def process(self, con: duckdb.DuckDBPyConnection, docs: list[PendingDoc]) -> int:
        """Replace this stage's rows for ``docs`` (inside the driver's transaction); return rows written."""
        raise NotImplementedError

    def finish(self, con: duckdb.DuckDBPyConnection) -> str:
        """Work after all batches (e.g. cross-document updates); returns a note for the summary."""
        return ""

    # ---- the driver -------------------------------------------------------------------------

    def pending_sql(self) -> str:
        """Documents whose current content has no output at this version (and whose ``after`` stages are current)."""
        conds = [
            "NOT EXISTS (SELECT 1 FROM _stage_state s WHERE s.stage = ? AND s.document_id = d.id "
            "AND s.content_hash = d.content_hash AND s.version = ?)"
        ]
        for _ in self.after:
            conds.append(
                "EXISTS (SELECT 1 FROM _stage_state u WHERE u.stage = ? AND u.document_id = d.id "
                "AND u.content_hash = d.content_hash)"
            )
        return (
            "SELECT d.id, d.content_hash FROM documents d WHERE "
            + " AND ".join(conds)
            + " ORDER BY d.id"
        )

    def pending(
        self, con: duckdb.DuckDBPyConnection, *, force: bool = False, limit: int | None = None
    ) -> list[PendingDoc]:
        if force:
            rows = con.execute("SELECT id, content_hash FROM documents ORDER BY id").fetchall()
        else:
            rows = con.execute(
                self.pending_sql(), [self.name, self.version, *self.after]
            ).fetchall()
        docs = [PendingDoc(r[0], r[1]) for r in rows]
        if not force:
            by_inputs, named = self.stale(con)
            seen = {d.id for d in docs}
            docs += [d for d in by_inputs if d.id not in seen]
            if by_inputs:
                docs.sort(key=lambda d: d.id)
            seen = {d.id for d in docs}
            docs += [d for d in named if d.id not in seen]
        return docs[:limit] if limit is not None else docs

    def stale(self, con: duckdb.DuckDBPyConnection) -> tuple[list[PendingDoc], list[PendingDoc]]:
        """Documents done at this version that must be redone: one of :attr:`inputs` rewrote
        their rows since, or :attr:`stale_sql` names them (e.g. a link target arrived later)."""
        by_inputs: list[tuple[str, str]] = []
        named: list[tuple[str, str]] = []
        if self.inputs:
            by_inputs = con.execute(
                "SELECT d.id, d.content_hash FROM documents d JOIN _stage_state e ON e.stage = ? "
                "AND e.document_id = d.id AND e.content_hash = d.content_hash AND e.version = ? "
                "WHERE EXISTS (SELECT 1 FROM _stage_state u WHERE u.stage IN (SELECT unnest(?)) "
                "AND u.document_id = d.id AND u.content_hash = d.content_hash "
                "AND u.done_at > e.done_at)",
                [self.name, self.version, list(self.inputs)],
            ).fetchall()
        if self.stale_sql:
            named = con.execute(self.stale_sql).fetchall()
        return ([PendingDoc(i, h) for i, h in by_inputs], [PendingDoc(i, h) for i, h in named])

    def mark_done(self, con: duckdb.DuckDBPyConnection, docs: list[PendingDoc]) -> None:
        from ..db.store import bulk_insert

        now = _now()
        bulk_insert(
            con,
            "_stage_state",
            ("stage", "document_id", "content_hash", "version", "done_at"),
            [(self.name, d.id, d.content_hash, self.version, now) for d in docs],
            "ON CONFLICT (stage, document_id) DO UPDATE SET content_hash = excluded.content_hash, "
            "version = excluded.version, done_at = excluded.done_at",
        )

    def run(
        self,
        con: duckdb.DuckDBPyConnection,
        *,
        limit: int | None = None,
        force: bool = False,
        progress: Callable[[str, int], Progress] | None = None,
    ) -> StageResult:
        t0, c0 = time.perf_counter(), time.process_time()
        result = StageResult(self.name)
        total = scalar(con, "SELECT count(*) FROM documents")
        todo = self.pending(con, force=force, limit=limit)
        result.up_to_date = total - len(todo) if not force else 0
        with record_run(
            con, "process", self.name, {"version": self.version, "force": force, "limit": limit}
        ) as run:
            run.rows_in = len(todo)
            tick = progress(self.name, len(todo)) if (progress and todo) else None
            if todo:
                self.setup(con)
            for i in range(0, len(todo), self.batch_size):
                batch = todo[i : i + self.batch_size]
                with transaction(con):
                    result.rows_out += self.process(con, batch)
                    self.mark_done(con, batch)
                result.docs += len(batch)
                if tick:
                    tick(len(batch))
            result.note = self.finish(con) or ""
            run.rows_out = result.rows_out
        result.seconds = time.perf_counter() - t0
        result.cpu_seconds = time.process_time() - c0
        return result
