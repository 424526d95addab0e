"""Same-event forecast groups on the real pipeline (segment, forecasts, embed with the packaged
MiniLM): who is grouped, resolving a group, the CLI, the snapshot."""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime

import numpy as np
import pytest

from crux.analysis import event_groups, tracking
from crux.cli import cli
from crux.db.store import Doc, ensure_source, save_documents
from crux.pipeline.embed import EmbedStage
from crux.pipeline.forecasts import ForecastsStage
from crux.pipeline.segment import SegmentStage

PUB = datetime(2026, 1, 12, 9, 0)
A = "I'd put 25% on an AI system doing most of the work of a junior software engineer by 2028."
B = "I'd put only 10% on an AI system doing most of the work of a junior software engineer by 2028."
# the same words, a horizon seven years later: another event
LATE = "I'd put 25% on an AI system doing most of the work of a junior software engineer by 2035."
OTHER = "There is a 90% chance that the new bridge over the river opens by 2027."


def _build(con):
    sid = ensure_source(con, "file", "test")
    save_documents(con, sid, [
        Doc("a", title="A", author="Mira", published_at=PUB, html=f"<p>{A}</p>"),
        Doc("b", title="B", author="Rafe", published_at=PUB, html=f"<p>{B}</p>"),
        Doc("c", title="C", author="Ines", published_at=PUB, html=f"<p>{LATE}</p>"),
        # the same forecast twice in one document is never a group by itself
        Doc("d", title="D", author="Dan", published_at=PUB, html=f"<p>{OTHER}</p><p>Again: {OTHER}</p>"),
    ])
    for stage in (SegmentStage(), ForecastsStage(), EmbedStage()):
        stage.run(con)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from crux.db import connect

    db = tmp_path_factory.mktemp("groups") / "g.duckdb"
    con = connect(db)
    _build(con)
    sentences = {t for (t,) in con.execute(
        "SELECT s.text FROM forecasts f JOIN sentences s ON s.id = f.sentence_id").fetchall()}
    assert {A, B, LATE, OTHER} <= sentences, sentences  # the detector finds all four
    con.close()
    return db


@pytest.fixture
def con(store, tmp_path):
    import shutil

    from crux.db import connect

    copy = tmp_path / "g.duckdb"
    shutil.copy(store, copy)
    c = connect(copy)
    yield c
    c.close()


def _key(con, doc, text):
    return tracking.forecast_key(doc, text)


def test_embed_stores_one_event_vector_per_forecast(con):
    n_forecasts = con.execute("SELECT count(*) FROM forecasts").fetchone()[0]
    assert con.execute("SELECT count(*) FROM embeddings WHERE item_kind = 'event'").fetchone()[0] == n_forecasts
    again = EmbedStage()
    again.run(con)
    assert again.stats["encoded"] == 0  # an unchanged re-run encodes nothing


def test_the_same_event_by_two_holders_is_one_group(con):
    found = event_groups.groups(con)
    assert [sorted(m.forecast_key for m in ms) for ms in found.values()] == [
        sorted([_key(con, "a", A), _key(con, "b", B)])]
    gid = next(iter(found))
    assert gid == event_groups.group_id([_key(con, "a", A), _key(con, "b", B)])
    assert gid.startswith("g-") and len(gid) == 12
    # a looser threshold pulls in the far horizon? no: 2028 and 2035 are never compatible
    loose = event_groups.groups(con, threshold=0.3)
    late = _key(con, "c", LATE)
    assert all(late not in {m.forecast_key for m in ms} for ms in loose.values())


def test_horizons_and_pairs():
    assert event_groups.horizons_compatible(None, date(2030, 1, 1))
    assert event_groups.horizons_compatible(date(2028, 12, 31), date(2028, 1, 1))
    assert not event_groups.horizons_compatible(date(2028, 12, 31), date(2040, 12, 31))
    ms = [event_groups.Member(f"k{i}", f"s{i}", d, None) for i, d in enumerate("xxy")]
    v = np.tile(np.eye(1, 4, dtype=np.float32), (3, 1))  # three equal vectors
    assert [(i, j) for i, j, _ in event_groups.same_event_pairs(ms, v)] == [(0, 2), (1, 2)]


def test_resolving_a_group_resolves_every_member_and_survives_force(con):
    gid = next(iter(event_groups.groups(con)))
    done = event_groups.resolve_group(con, gid, "no", source="https://example.org/swe", note="n")
    assert sorted(r.key for r in done) == sorted([_key(con, "a", A), _key(con, "b", B)])
    rows = {r[0]: r[1] for r in tracking.resolutions(con)[1]}
    assert rows == {_key(con, "a", A): "no", _key(con, "b", B): "no"}
    for stage in (SegmentStage(), ForecastsStage(), EmbedStage()):
        stage.run(con, force=True)
    assert {r[0]: r[1] for r in tracking.resolutions(con)[1]} == rows
    assert next(iter(event_groups.groups(con))) == gid  # the same id after re-processing
    with pytest.raises(tracking.UnknownKey, match="no same-event group has the id 'g-0000000000'"):
        event_groups.resolve_group(con, "g-0000000000", "yes")
    assert {r[0]: r[1] for r in tracking.resolutions(con)[1]} == rows


def test_cli_groups_and_resolve_a_group(store, runner, tmp_path):
    import shutil

    db = tmp_path / "cli.duckdb"
    shutil.copy(store, db)
    r = runner.invoke(cli, ["forecasts", "groups", "--db", str(db), "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    assert {x["sentence"] for x in rows} == {A, B} and {x["size"] for x in rows} == {2}
    assert {x["holder"] for x in rows} == {"Mira", "Rafe"}
    gid = rows[0]["group_id"]
    r = runner.invoke(cli, ["forecasts", "resolve", "--db", str(db), gid, "--outcome", "yes"])
    assert r.exit_code == 0, r.output
    assert r.output.count("resolved ") == 2
    r = runner.invoke(cli, ["forecasts", "resolve", "--db", str(db), "g-nosuchgroup", "--outcome", "yes"])
    assert r.exit_code == 2 and "no same-event group has the id 'g-nosuchgroup'" in r.output
    assert "Traceback" not in r.output
    r = runner.invoke(cli, ["forecasts", "groups", "--db", str(db), "--csv"])
    assert r.exit_code == 0 and r.output.count(gid) == 2 and ",yes," in r.output


def test_publish_carries_the_groups(con, tmp_path):
    from crux.site.export import publish

    gid = next(iter(event_groups.groups(con)))
    res = publish(con, tmp_path / "x.duckdb", tmp_path / "x.db")
    sq = sqlite3.connect(res.path)
    got = sq.execute("SELECT text, group_id, group_size FROM forecast_details WHERE group_id IS NOT NULL "
                     "ORDER BY text").fetchall()
    assert got == [(A, gid, 2), (B, gid, 2)]
    assert sq.execute("SELECT count(*) FROM forecast_groups").fetchone() == (2,)
    sq.close()
