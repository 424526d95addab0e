"""crux topics / claims / forecasts on the demo corpus with real embeddings and real fits."""

from __future__ import annotations

import csv
import io
import json

import pytest

from crux.cli import cli


def _runs(db):
    from crux.db import connect
    con = connect(db, read_only=True)
    try:
        return con, [r[0] for r in con.execute(
            "SELECT run_id FROM topic_runs ORDER BY created_at, run_id").fetchall()]
    except BaseException:
        con.close()
        raise


def test_second_fit_in_new_process_compiles_nothing(cli_fits):
    """numba's disk cache (every UMAP/pynndescent function, in <db>-data/numba-cache): the
    first fit fills it, the second (a new process) loads everything from it and writes nothing.
    (How much time that saves is measured in `make bench`, not here.)"""
    cold = cli_fits["after_cold"]
    assert any(n.endswith(".nbi") for n in cold) and any(n.endswith(".nbc") for n in cold), cold
    assert cli_fits["after_warm"] == cold
    assert all(o.startswith("topic run documents-") for o in cli_fits["out"])


def test_same_seed_gives_same_assignments(cli_fits):
    con, runs = _runs(cli_fits["db"])
    try:
        a, b = runs[:2]
        q = "SELECT item_id, topic_id FROM topic_assignments WHERE run_id = ? ORDER BY item_id"
        first, second = con.execute(q, [a]).fetchall(), con.execute(q, [b]).fetchall()
        assert len(first) == 176 and first == second
        assert len({t for _, t in first if t >= 0}) >= 4
        labels = con.execute("SELECT topic_id, label FROM topics WHERE run_id = ? ORDER BY 1", [a]).fetchall()
        assert labels == con.execute("SELECT topic_id, label FROM topics WHERE run_id = ? ORDER BY 1",
                                     [b]).fetchall()
    finally:
        con.close()


def test_reduce_outliers_and_saved_model(fitted):
    from safetensors.numpy import load_file

    from crux.db import connect

    r = fitted["reduced"]
    assert r.n_outliers == 0 and r.n_topics >= 4
    con = connect(fitted["db"], read_only=True)
    try:
        rows = con.execute("SELECT topic_id, count(*) FROM topic_assignments WHERE run_id = ? "
                           "GROUP BY 1", [r.run_id]).fetchall()
        sizes = dict(con.execute("SELECT topic_id, size FROM topics WHERE run_id = ?", [r.run_id]).fetchall())
    finally:
        con.close()
    assert -1 not in dict(rows) and dict(rows) == sizes
    files = {p.name for p in (fitted["db"].parent / "demo-data" / "topics" / r.run_id).iterdir()}
    assert {"config.json", "topic_embeddings.safetensors", "ctfidf.safetensors",
            "centroids.safetensors"} <= files
    # the saved topic embeddings line up with the stored topics (no off-by-one, BERTopic #1809)
    from bertopic import BERTopic
    model = BERTopic.load(r.model_path)
    cents = load_file(f"{r.model_path}/centroids.safetensors")["centroids"]
    assert model.topic_embeddings_.shape == cents.shape
    assert abs(model.topic_embeddings_ - cents).max() < 1e-5


def test_new_document_gets_nearest_centroid(fitted):
    from crux.analysis.topics import assign_new, centroids
    from crux.db import connect

    con = connect(fitted["db"])
    try:
        run = fitted["reduced"].run_id
        tids, cents, model = centroids(con, run)
        target = tids[2]
        con.execute("INSERT INTO documents (id, kind, title, text, content_hash, author, published_at) "
                    "VALUES ('new-doc', 'post', 'New', 'new text', 'h', 'Newcomer', TIMESTAMP '2026-11-01')")
        con.execute("INSERT INTO embeddings VALUES ('document', 'new-doc', ?, 'h', ?)",
                    [model, (cents[tids.index(target)] * 0.9 + 0.01).tolist()])
        size = "SELECT size FROM topics WHERE run_id = ? AND topic_id = ?"
        before = con.execute(size, [run, target]).fetchone()[0]
        assert assign_new(con, run) == 1
        assert con.execute(size, [run, target]).fetchone()[0] == before + 1
        assert assign_new(con, run) == 0  # idempotent
        got = con.execute("SELECT topic_id, method, probability FROM topic_assignments "
                          "WHERE run_id = ? AND item_id = 'new-doc'", [run]).fetchone()
        assert got[0] == target and got[1] == "centroid" and got[2] > 0.9
        # what `crux refresh` calls: no refit (the corpus barely grew), only new items assigned
        from crux.analysis.topics import refresh_topics
        assert refresh_topics(con) == "0 new items assigned to topics"
    finally:
        con.close()


@pytest.mark.parametrize("args", [
    ["topics", "list"], ["topics", "list", "--runs"], ["topics", "show", "0"],
    ["topics", "over-time"], ["topics", "over-time", "--freq", "year"], ["topics", "by-source"],
    ["topics", "by-author", "--limit", "3"], ["claims", "contested"], ["forecasts"],
    ["claims", "--doc", "fk5doj9YeoEq7KZIi"],
])
def test_commands_run_and_json_parses(fitted, runner, args):
    db = str(fitted["db"])
    table = runner.invoke(cli, ["--db", db, *args])
    assert table.exit_code == 0, table.output
    assert table.output.strip()
    out = runner.invoke(cli, ["--db", db, *args, "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data
    out = runner.invoke(cli, ["--db", db, *args, "--csv"])
    assert out.exit_code == 0
    if args[:2] != ["topics", "show"]:
        head = next(csv.reader(io.StringIO(out.output)))
        assert head == list(data[0]) if isinstance(data, list) else head


def test_views_content(fitted, runner):
    db = str(fitted["db"])
    topics = json.loads(runner.invoke(cli, ["--db", db, "topics", "list", "--json"]).output)
    assert sum(t["items"] for t in topics) == 177  # 176 fitted + the centroid-assigned one
    show = json.loads(runner.invoke(cli, ["--db", db, "topics", "show", "0", "--json"]).output)
    assert show["words"] and show["items"] and show["authors"] and show["sources"]
    assert show["first"] <= show["last"]
    sims = [i["similarity"] for i in show["items"]]
    assert sims == sorted(sims, reverse=True)
    monthly = json.loads(runner.invoke(cli, ["--db", db, "topics", "over-time", "--json"]).output)
    assert sum(r["items"] for r in monthly) == 177
    contested = json.loads(runner.invoke(cli, ["--db", db, "claims", "contested", "--json"]).output)
    assert [c["attacks"] for c in contested] == [2, 1]
    assert contested[0]["supports"] == 1 and contested[0]["topic"] is not None


def test_claims_search(fitted, runner):
    out = runner.invoke(cli, ["--db", str(fitted["db"]), "claims", "search",
                              "ultraviolet light kills germs in the air", "-k", "2", "--json"])
    assert out.exit_code == 0, out.output
    hits = json.loads(out.output)
    assert len(hits) == 2 and "Far-UVC lamps" in hits[0]["claim"]
    assert hits[0]["score"] >= hits[1]["score"]
    assert hits[0]["author"] and hits[0]["published_at"] and hits[0]["topic"] is not None


@pytest.mark.parametrize("kind", ["barchart", "over-time", "hierarchy", "map"])
def test_plot_html_and_png(fitted, runner, tmp_path, kind):
    db = str(fitted["db"])
    html = tmp_path / f"{kind}.html"
    out = runner.invoke(cli, ["--db", db, "topics", "plot", "--kind", kind, "--out", str(html)])
    assert out.exit_code == 0, out.output
    text = html.read_text()
    assert '<script src="http' not in text and len(text) > 1_000_000  # plotly.js inline
    png = tmp_path / f"{kind}.png"
    out = runner.invoke(cli, ["--db", db, "topics", "plot", "--kind", kind, "--out", str(png)])
    assert out.exit_code == 0, out.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5_000


def _one_line_error(result, text):
    assert result.exit_code != 0
    lines = [line for line in result.output.strip().splitlines() if line.startswith("Error")]
    assert lines and text in lines[-1], result.output
    assert "Traceback" not in result.output


def test_bad_input_is_one_line(fitted, runner, tmp_path):
    empty = str(tmp_path / "empty.duckdb")
    runner.invoke(cli, ["--db", empty, "init"])
    _one_line_error(runner.invoke(cli, ["--db", empty, "topics", "fit"]),
                    "no document embeddings yet: run crux process first")
    _one_line_error(runner.invoke(cli, ["--db", empty, "topics", "list"]),
                    "no topics yet: run crux topics fit first")
    _one_line_error(runner.invoke(cli, ["--db", empty, "claims", "search", "x"]),
                    "no claim embeddings yet: run crux process first")
    db = str(fitted["db"])
    _one_line_error(runner.invoke(cli, ["--db", db, "topics", "fit", "--unit", "claims"]),
                    "too few claims for topics (5); need at least 20")
    _one_line_error(runner.invoke(cli, ["--db", db, "topics", "show", "99"]), "no topic 99 in run")
    _one_line_error(runner.invoke(cli, ["--db", db, "topics", "list", "--json", "--csv"]),
                    "Use only one of --json and --csv")
    _one_line_error(runner.invoke(cli, ["--db", db, "topics", "plot", "--out", "x.txt"]),
                    "use a file name ending in .html or .png")
    _one_line_error(runner.invoke(cli, ["--db", db, "forecasts", "--form", "vague"]), "vague")
    _one_line_error(runner.invoke(cli, ["--db", db, "forecasts", "--from", "2020-13-01"]),
                    "is not a date like 2026-01-31")
    _one_line_error(runner.invoke(cli, ["--db", db, "topics", "list", "--run", "nope"]),
                    "no topic run 'nope'")
