"""``crux debates`` and ``crux debates show``."""

from __future__ import annotations

import json

from crux.cli import cli
from crux.db import connect, ensure_source, save_documents
from tests.pipeline import run_pipeline


def _build(db_path):
    import sys
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent / "pipeline"))
    from test_claim_links import RESP, TARGET
    con = connect(str(db_path))
    save_documents(con, ensure_source(con, "file", "t"), [TARGET, RESP])
    run_pipeline(con, ["segment", "responses", "claim_links"])
    con.close()


def test_debates_list_and_show(runner, db_path):
    _build(db_path)
    res = runner.invoke(cli, ["debates", "--db", str(db_path), "--json"])
    assert res.exit_code == 0, res.output
    comps = json.loads(res.output)
    assert comps[0]["documents"] == 2 and comps[0]["first"].startswith("2025-01-01")
    res = runner.invoke(cli, ["debates", "--db", str(db_path)])
    assert res.exit_code == 0 and "1 debates" in res.output
    res = runner.invoke(cli, ["debates", "show", "https://forum.example/p/contra", "--db", str(db_path)])
    assert res.exit_code == 0, res.output
    assert "Answers:" in res.output and "rebuts" in res.output and "Far-UVC versus filtration" in res.output
    assert "Claim links" in res.output and " | " in res.output


def test_debates_bad_input(runner, db_path, tmp_path):
    res = runner.invoke(cli, ["debates", "--db", str(tmp_path / "none.duckdb")])
    assert res.exit_code == 1 and "no such database" in res.output
    _build(db_path)
    res = runner.invoke(cli, ["debates", "show", "nope", "--db", str(db_path)])
    assert res.exit_code == 1 and "no document with id or URL 'nope'" in res.output
    assert "Traceback" not in res.output
