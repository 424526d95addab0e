"""Every stage keeps to what it declares: it reads only ``reads`` (and ``writes``) and changes
only ``writes`` (plus the driver's bookkeeping), on a real store (the demo corpus)."""

from __future__ import annotations

import re

import pytest

from crux.pipeline import STAGE_ORDER, available_stages

BOOKKEEPING = {"_stage_state", "_runs", "documents"}  # the driver's, and every stage's input


class Recording:
    """A DuckDB connection that remembers the SQL run through it."""

    def __init__(self, con):
        self._con = con
        self.sql: list[str] = []

    def execute(self, sql, *args, **kwargs):
        self.sql.append(sql)
        return self._con.execute(sql, *args, **kwargs)

    def executemany(self, sql, *args, **kwargs):
        self.sql.append(sql)
        return self._con.executemany(sql, *args, **kwargs)

    def sql_(self, sql, *args, **kwargs):  # pragma: no cover - not used by the stages today
        self.sql.append(sql)
        return self._con.sql(sql, *args, **kwargs)

    def __getattr__(self, name):
        if name in ("sql", "query", "table", "from_query"):
            raise AssertionError(f"stages go through execute(); add {name} to Recording")
        return getattr(self._con, name)


def _tables(con) -> list[str]:
    return [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                      "WHERE table_schema = 'main' AND table_type = 'BASE TABLE'").fetchall()]


def _fingerprints(con) -> dict[str, tuple]:
    return {t: con.execute(f'SELECT count(*), bit_xor(hash(x)) FROM "{t}" x').fetchone() for t in _tables(con)}


@pytest.fixture(scope="module")
def observed(tmp_path_factory, demo_dir):
    """Each stage run in order on the ingested demo corpus: (tables read, tables changed)."""
    from crux.crawler.ingest import ingest_file, iter_files
    from crux.db import connect
    from crux.demo import DEMO_SOURCES

    con = connect(tmp_path_factory.mktemp("contracts") / "demo.duckdb")
    for path in iter_files([demo_dir]):
        ingest_file(con, path, source=DEMO_SOURCES.get(path.name))
    tables = _tables(con)
    out = {}
    for name, cls in available_stages().items():
        before = _fingerprints(con)
        rec = Recording(con)
        result = cls().run(rec, progress=None)
        after = _fingerprints(con)
        text = " ".join(rec.sql)
        used = {t for t in tables if re.search(rf'(?<![\w.]){re.escape(t)}(?!\w)', text)}
        changed = {t for t in tables if before[t] != after[t]}
        out[name] = (used, changed, result)
    yield out
    con.close()


@pytest.mark.parametrize("name", [n for n, _ in STAGE_ORDER])
def test_stage_reads_and_writes_only_what_it_declares(observed, name):
    stage = available_stages()[name]
    used, changed, result = observed[name]
    assert result.docs > 0, f"{name} processed nothing: the check would prove nothing"
    assert changed, f"{name} changed no table"
    undeclared_writes = changed - set(stage.writes) - BOOKKEEPING
    assert not undeclared_writes, f"{name} changed tables it does not declare in writes: {undeclared_writes}"
    undeclared_reads = used - set(stage.reads) - set(stage.writes) - BOOKKEEPING
    assert not undeclared_reads, f"{name} read tables it does not declare in reads: {undeclared_reads}"
    assert set(stage.writes) <= used, f"{name} declares writes it never touches: {set(stage.writes) - used}"


def test_the_recording_sees_table_names():
    import duckdb

    con = duckdb.connect()
    con.execute("CREATE TABLE claims (x INT); CREATE TABLE claim_links (y INT)")
    rec = Recording(con)
    rec.execute("SELECT * FROM claim_links")
    text = " ".join(rec.sql)
    assert [t for t in ("claims", "claim_links") if re.search(rf'(?<![\w.]){t}(?!\w)', text)] == ["claim_links"]
