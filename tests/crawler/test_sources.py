"""Source management commands: add-feed, add-forum, remove-source, OPML in and out (no network)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from crux.cli import cli
from crux.db import Doc, connect, save_documents

OPML = Path(__file__).resolve().parents[1] / "fixtures" / "feeds" / "subscriptions.opml"


def _sources(db):
    con = connect(db)
    rows = con.execute("SELECT name, kind, url, config FROM sources ORDER BY name").fetchall()
    con.close()
    return {r[0]: (r[1], r[2], json.loads(r[3])) for r in rows}


@pytest.mark.parametrize("site, url, style", [
    ("lesswrong", "https://www.lesswrong.com", "selector"),
    ("eaforum", "https://forum.effectivealtruism.org", "legacy"),
    ("alignmentforum", "https://www.alignmentforum.org", "selector"),
    ("https://forum.example.org/", "https://forum.example.org", "legacy"),
])
def test_add_forum_known_names_and_urls(runner, db_path, site, url, style):
    r = runner.invoke(cli, ["add-forum", site, "--db", str(db_path), "--since", "2024-01-01", "--no-comments"])
    assert r.exit_code == 0, r.output
    (name, (kind, got_url, cfg)), = _sources(db_path).items()
    assert (kind, got_url, cfg["api_style"], cfg["comments"]) == ("forummagnum", url, style, False)
    assert cfg["since"] == "2024-01-01T00:00:00.000Z"


@pytest.mark.parametrize("args, message", [
    (["add-forum", "reddit"], "Error: unknown forum 'reddit'; use one of lesswrong, eaforum, alignmentforum"),
    (["add-forum", "lesswrong", "--since", "last week"],
     "Error: Invalid value for '--since': 'last week' is not a date"),
    (["add-feed", "example.org/feed"], "Error: 'example.org/feed' is not an http(s) feed URL"),
    (["remove-source", "nope"], "Error: no source named 'nope'"),
    (["crawl", "--source", "nope"], "Error: --source 'nope': no such source"),
    (["crawl", "--since", "yesterday"], "Error: Invalid value for '--since': 'yesterday' is not a date"),
    (["import-opml", "missing.opml"], "Error: missing.opml: cannot read"),
])
def test_bad_input_is_one_line(runner, db_path, args, message):
    """One error line; a wrong option value is a usage error (exit 2, after click's usage lines)."""
    r = runner.invoke(cli, [*args, "--db", str(db_path)])
    usage = "--since" in args
    assert r.exit_code == (2 if usage else 1), r.output
    errors = [line for line in r.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and errors[0].startswith(message), r.output
    if not usage:
        assert r.output.count("\n") == 1, r.output


def test_add_feed_twice_updates_and_same_url_other_name_is_refused(runner, db_path):
    url = "https://blog.example/feed.xml"
    assert runner.invoke(cli, ["add-feed", url, "--db", str(db_path)]).output.startswith("added feed 'blog.example/feed.xml'")
    r = runner.invoke(cli, ["add-feed", url, "--fetch-articles", "--db", str(db_path)])
    assert r.output.startswith("updated feed")
    assert _sources(db_path)["blog.example/feed.xml"][2]["fetch_articles"] is True
    r = runner.invoke(cli, ["add-feed", url, "--name", "Other", "--db", str(db_path)])
    assert r.exit_code == 1 and "already a source, named 'blog.example/feed.xml'" in r.output


def test_opml_round_trip(runner, tmp_path):
    a, b = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    r = runner.invoke(cli, ["import-opml", str(OPML), "--db", str(a)])
    assert r.exit_code == 0, r.output
    assert r.output.strip().endswith("3 feeds added, 0 already present, 1 skipped")
    srcs = _sources(a)
    assert set(srcs) == {"Quiet Priors", "Marginal Filtration", "Café notes & more"}
    assert srcs["Quiet Priors"][2]["site_url"] == "https://quiet-priors.example/"
    out1 = tmp_path / "one.opml"
    assert runner.invoke(cli, ["export-opml", "--out", str(out1), "--db", str(a)]).exit_code == 0
    r = runner.invoke(cli, ["import-opml", str(out1), "--db", str(b)])
    assert "3 feeds added" in r.output
    again = runner.invoke(cli, ["import-opml", str(out1), "--db", str(b)])
    assert "0 feeds added, 3 already present" in again.output
    out2 = runner.invoke(cli, ["export-opml", "--db", str(b)]).output

    def outlines(text):
        return sorted(re.findall(r"<outline [^>]*/>", text))
    assert outlines(out1.read_text()) == outlines(out2) and len(outlines(out2)) == 3
    assert _sources(b) == srcs


def test_bad_opml_is_one_line(runner, db_path, tmp_path):
    bad = tmp_path / "bad.opml"
    bad.write_text("<opml><body><outline xmlUrl='https://x.example/feed'></body>")
    r = runner.invoke(cli, ["import-opml", str(bad), "--db", str(db_path)])
    assert r.exit_code == 1 and r.output.startswith(f"Error: {bad}: not well-formed XML")
    rss = tmp_path / "feed.opml"
    rss.write_text("<rss version='2.0'><channel/></rss>")
    r = runner.invoke(cli, ["import-opml", str(rss), "--db", str(db_path)])
    assert "the root element is <rss>, not <opml>" in r.output
    assert _sources(db_path) == {}


def test_remove_source_keeps_documents_unless_purged(runner, db_path):
    for name in ("keep", "purge"):
        runner.invoke(cli, ["add-feed", f"https://{name}.example/feed", "--name", name, "--db", str(db_path)])
    con = connect(db_path)
    ids = dict(con.execute("SELECT name, id FROM sources").fetchall())
    save_documents(con, ids["keep"], [Doc(id="k1", title="K", html="<p>k</p>")])
    save_documents(con, ids["purge"], [Doc(id="p1", title="P", html="<p>p <a href='https://x.example/'>x</a></p>")])
    con.close()
    r = runner.invoke(cli, ["remove-source", "keep", "--db", str(db_path)])
    assert r.output.startswith("removed 'keep'; its 1 documents stay")
    r = runner.invoke(cli, ["remove-source", "purge", "--purge", "--db", str(db_path)])
    assert r.exit_code == 0 and r.output.startswith("removed 'purge' and purged 1 documents")
    con = connect(db_path)
    assert con.execute("SELECT id FROM documents").fetchall() == [("k1",)]
    assert con.execute("SELECT count(*) FROM links").fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM sources").fetchone() == (0,)
    con.close()


def test_crux_help_lists_the_commands(runner):
    out = runner.invoke(cli, ["--help"]).output
    for cmd in ("add-feed", "add-forum", "import-opml", "export-opml", "remove-source", "crawl"):
        assert cmd in out
