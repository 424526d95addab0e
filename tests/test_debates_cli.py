"""``crux debates`` and ``crux debates show``."""

from __future__ import annotations

import json
import re

import pytest

from crux.analysis.debates import MIN_CLAIM_LINK_SCORE
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


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The two-post debate, built once for the module (the tests only read it)."""
    path = tmp_path_factory.mktemp("debates") / "debates.duckdb"
    _build(path)
    return path


def test_debates_list_and_show(runner, built):
    db_path = built
    res = runner.invoke(cli, ["debates", "--db", str(db_path), "--json"])
    assert res.exit_code == 0, res.output
    comps = json.loads(res.output)
    assert comps[0]["documents"] == 2 and comps[0]["first"].startswith("2025-01-01")
    res = runner.invoke(cli, ["debates", "--db", str(db_path)])
    assert res.exit_code == 0 and "1 debate\n" in res.output
    res = runner.invoke(cli, ["debates", "show", "https://forum.example/p/contra", "--db", str(db_path)])
    assert res.exit_code == 0, res.output
    assert "Answers:" in res.output and "rebuts" in res.output and "Far-UVC versus filtration" in res.output
    assert "Claim links" in res.output and "\n  > " in res.output
    # every response and claim link shows its relation, method and score
    assert re.search(r"rebuts +(0\.\d\d|1\.00) +\S", res.output)
    assert re.search(r"^    (attacks|supports) \S+ [01]\.\d\d: ", res.output, re.M)


def _show(runner, db_path, *args):
    res = runner.invoke(cli, ["debates", "show", "https://forum.example/p/contra", "--db", str(db_path), *args])
    assert res.exit_code == 0, res.output
    return res.output


def test_debates_show_cutoff_relation_and_passages_once(runner, built):
    db_path = built
    every = _show(runner, db_path, "--all")
    scores = [float(x) for x in re.findall(r"^    (?:attacks|supports) \S+ ([01]\.\d\d): ", every, re.M)]
    assert scores, every
    cut = _show(runner, db_path)
    kept = re.findall(r"^    (?:attacks|supports) \S+ ([01]\.\d\d): ", cut, re.M)
    assert len(kept) == sum(x >= MIN_CLAIM_LINK_SCORE for x in scores)
    if len(kept) < len(scores):
        assert f"{len(scores) - len(kept)} scored below" in cut
    # each quoted passage once, its answers under it
    passages = re.findall(r"^  > \[.*\]\n  > (.*)$", every, re.M)
    assert len(passages) == len(set(passages))
    attacks = _show(runner, db_path, "--all", "--relation", "attacks")
    assert "    supports " not in attacks and "    attacks " in attacks
    res = runner.invoke(cli, ["debates", "show", "x", "--db", str(db_path), "--relation", "nope"])
    assert res.exit_code == 2 and "Invalid value for '--relation'" in res.output


def test_debates_show_json_and_graphml_are_one_argument_graph(runner, built):
    import xml.etree.ElementTree as ET
    db_path = built
    graph = json.loads(_show(runner, db_path, "--json"))
    types = {n["type"] for n in graph["nodes"]}
    assert {"document", "claim"} <= types
    edges = {e["type"] for e in graph["edges"]}
    assert {"response", "claim_link", "in"} <= edges
    for e in graph["edges"]:
        if e["type"] in ("response", "claim_link"):
            assert e["relation"] and e["method"] and 0 <= e["score"] <= 1
    ids = {n["id"] for n in graph["nodes"]}
    assert all(e["source"] in ids and e["target"] in ids for e in graph["edges"])
    xml = _show(runner, db_path, "--graphml")
    ns = {"g": "http://graphml.graphdrawing.org/xmlns"}
    root = ET.fromstring(xml)
    assert len(root.findall(".//g:node", ns)) == len(graph["nodes"])
    assert len(root.findall(".//g:edge", ns)) == len(graph["edges"])
    keys = {k.get("attr.name"): k.get("attr.type") for k in root.findall("g:key", ns)}
    assert keys["score"] == "double" and "relation" in keys and "method" in keys
    res = runner.invoke(cli, ["debates", "show", "x", "--db", str(db_path), "--json", "--graphml"])
    assert res.exit_code == 2 and "Use only one of --json and --graphml" in res.output


def test_debates_bad_input(runner, built, tmp_path):
    db_path = built
    res = runner.invoke(cli, ["debates", "--db", str(tmp_path / "none.duckdb")])
    assert res.exit_code == 1 and "no such database" in res.output
    res = runner.invoke(cli, ["debates", "show", "nope", "--db", str(db_path)])
    assert res.exit_code == 1 and "no document with id or URL 'nope'" in res.output
    assert "Traceback" not in res.output
