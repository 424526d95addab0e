"""Forecast tracking: keys, resolutions that survive re-processing and edits, CSV, scores."""

from __future__ import annotations

import csv
import json
import math
import sqlite3
from datetime import date, datetime

import pytest

from crux.analysis import tracking
from crux.cli import cli
from crux.db.store import Doc, ensure_source, save_documents
from crux.pipeline.forecasts import ForecastsStage
from crux.pipeline.segment import SegmentStage

PUB = datetime(2020, 3, 1, 12, 0)
KEEP = "I think there's a 30% chance the treaty is signed by 2021."
DROP = "The launch will probably slip past June 2020."
OTHER = "There is a 90% chance that the bridge opens by 2022."


def _save(con, a_html, author="Ann"):
    sid = ensure_source(con, "file", "test")
    save_documents(con, sid, [
        Doc("a", title="A", author=author, published_at=PUB, html=a_html),
        Doc("b", title="B", author="Bob", published_at=PUB, html=f"<p>{OTHER}</p>"),
    ])


def _process(con, force=False, stage=ForecastsStage):
    SegmentStage().run(con, force=force)
    stage().run(con, force=force)


def _key(con, text):
    return dict(con.execute(f"SELECT sentence, forecast_key FROM ({tracking.KEYED})").fetchall())[text]


@pytest.fixture
def store(con):
    _save(con, f"<p>Intro line here. {KEEP}</p><p>{DROP}</p>")
    _process(con)
    return con


def _states(con):
    return {k: orphaned for k, *_, orphaned, _ in tracking.resolutions(con)[1]}


def test_key_is_the_python_key_and_visible_in_forecasts(store):
    from crux.analysis.forecasts import forecasts

    cols, rows = forecasts(store)
    keys = {r[cols.index("sentence")]: r[cols.index("forecast_key")] for r in rows}
    assert keys[KEEP] == tracking.forecast_key("a", KEEP) == tracking.forecast_key("a", "  " + KEEP.upper())
    assert keys[KEEP].startswith("a:") and len(keys[KEEP]) == 2 + tracking.KEY_HEX


def test_resolutions_survive_force_model_change_and_edits(store):
    keep, drop = _key(store, KEEP), _key(store, DROP)
    tracking.resolve(store, keep, "no", source="https://example.org/treaty", note="not signed")
    tracking.resolve(store, drop, "yes")
    before = tracking.resolutions(store)[1]
    _process(store, force=True)
    assert tracking.resolutions(store)[1] == before

    class NewModel(ForecastsStage):
        version = "99:another-model"
    _process(store, stage=NewModel)
    assert tracking.resolutions(store)[1] == before and _states(store) == {keep: False, drop: False}
    # edited upstream: a new first sentence shifts every position; the DROP sentence is gone
    _save(store, f"<p>A brand new opening. Then more.</p><p>{KEEP}</p>")
    _process(store)
    assert store.execute("SELECT id FROM sentences WHERE text = ?", [KEEP]).fetchone()[0] != "a:s1"
    assert _states(store) == {keep: False, drop: True}
    _, rows = tracking.due(store, today=date(2030, 1, 1))
    assert keep not in {r[0] for r in rows}  # still resolved, not due
    outcome = {r[0]: r[1] for r in tracking.resolutions(store)[1]}
    assert outcome == {keep: "no", drop: "yes"}


def test_unknown_key_and_bad_outcome(store, runner, tmp_path):
    with pytest.raises(tracking.UnknownKey):
        tracking.resolve(store, "a:000000000000", "yes")
    with pytest.raises(Exception, match="not yes, no, ambiguous or a number"):
        tracking.resolve(store, _key(store, KEEP), "maybe")


def test_due_is_oldest_first_and_drops_resolved(store):
    cols, rows = tracking.due(store, today=date(2030, 1, 1))
    horizons = [r[1] for r in rows]
    # DROP's "past June 2020" is a horizon too (30 June 2020), the oldest
    assert horizons == sorted(horizons)
    assert [r[cols.index("sentence")] for r in rows] == [DROP, KEEP, OTHER]
    tracking.resolve(store, rows[0][0], "ambiguous")
    assert len(tracking.due(store, today=date(2030, 1, 1))[1]) == 2
    assert tracking.due(store, today=date(2019, 1, 1))[1] == []


def test_csv_round_trips_and_bad_rows_change_nothing(store, tmp_path):
    keep, other = _key(store, KEEP), _key(store, OTHER)
    tracking.resolve(store, keep, "no", source="https://example.org/x", note='said "no", twice',
                     who="me", resolved_at="2021-12-31")
    tracking.resolve(store, other, "0.25")
    text = tracking.export_csv(store)
    path = tmp_path / "res.csv"
    path.write_text(text)
    store.execute("DELETE FROM resolutions")
    assert tracking.import_csv(store, path) == 2
    assert tracking.export_csv(store) == text
    bad = tmp_path / "bad.csv"
    bad.write_text("forecast_key,outcome,resolved_at,source\n"
                   f"{keep},yes,,\n"
                   "a:ffffffffffff,yes,,\n"
                   f"{other},perhaps,,\n"
                   f"{other},no,yesterday,\n"
                   f"{other},no,,ftp://x\n")
    with pytest.raises(Exception) as err:
        tracking.import_csv(store, bad)
    lines = str(err.value).splitlines()
    assert lines[:4] == [
        f"{bad}:3: no forecast has the key 'a:ffffffffffff'",
        f"{bad}:4: outcome 'perhaps' is not yes, no, ambiguous or a number",
        f"{bad}:5: resolved_at 'yesterday' is not a date like 2026-01-31 or 2026-01-31T12:00",
        f"{bad}:6: source 'ftp://x' is not a http(s) URL or 'manual'"]
    assert tracking.export_csv(store) == text  # the good row 2 was not stored either


def test_cli_resolve_due_export_import(store, runner, tmp_path):
    db = tmp_path / "c.duckdb"
    from crux.db import connect
    c = connect(db)
    _save(c, f"<p>{KEEP}</p>")
    _process(c)
    key = _key(c, KEEP)
    c.close()
    r = runner.invoke(cli, ["forecasts", "--db", str(db), "--json"])
    assert r.exit_code == 0 and key in {f["forecast_key"] for f in json.loads(r.output)}
    r = runner.invoke(cli, ["forecasts", "resolve", "--db", str(db), "a:123456789abc", "--outcome", "yes"])
    assert r.exit_code == 2 and "no forecast has the key 'a:123456789abc'" in r.output
    assert "Traceback" not in r.output
    r = runner.invoke(cli, ["forecasts", "resolve", "--db", str(db), key, "--outcome", "sure"])
    assert r.exit_code == 2 and "not yes, no, ambiguous or a number" in r.output
    r = runner.invoke(cli, ["forecasts", "resolve", "--db", str(db), key, "--outcome", "yes",
                            "--source", "https://example.org/n"])
    assert r.exit_code == 0, r.output
    due = runner.invoke(cli, ["forecasts", "due", "--db", str(db), "--json"])
    assert due.exit_code == 0 and key not in due.output
    out = runner.invoke(cli, ["forecasts", "export", "--db", str(db)])
    rows = list(csv.DictReader(out.output.splitlines()))
    assert [(x["forecast_key"], x["outcome"], x["source"]) for x in rows] == [(key, "yes", "https://example.org/n")]
    bad = tmp_path / "bad.csv"
    bad.write_text("forecast_key,outcome\nnope:1,yes\n")
    r = runner.invoke(cli, ["forecasts", "import", "--db", str(db), str(bad)])
    assert r.exit_code == 1 and f"{bad}:2: no forecast has the key 'nope:1'" in r.output
    score = runner.invoke(cli, ["forecasts", "score", "--db", str(db), "--by", "form", "--json"])
    assert score.exit_code == 0 and json.loads(score.output)[0]["n"] == 1


def test_publish_carries_resolutions(store, tmp_path):
    from crux.site.export import publish

    key = _key(store, KEEP)
    tracking.resolve(store, key, "yes")
    res = publish(store, tmp_path / "x.duckdb", tmp_path / "x.db")
    sq = sqlite3.connect(res.path)
    assert sq.execute("SELECT forecast_key, outcome FROM resolutions").fetchall() == [(key, "yes")]
    assert sq.execute("SELECT outcome FROM forecast_details WHERE forecast_key = ?", [key]).fetchone() == ("yes",)
    sq.close()


# ---- scores against a hand computation -----------------------------------------------------------

def test_scores_match_a_hand_computation():
    ps, os_ = [0.3, 0.9, 0.75], [0.0, 1.0, 0.0]
    # (0.09 + 0.01 + 0.5625) / 3
    assert tracking.brier(ps, os_) == pytest.approx(0.6625 / 3)
    assert tracking.log_score(ps, os_) == pytest.approx((math.log(0.7) + math.log(0.9) + math.log(0.25)) / 3)
    assert tracking.log_score([1.0], [0.0]) == pytest.approx(math.log(0.01))  # clipped, not -inf
    lo, hi = tracking.bootstrap(ps, os_, tracking.brier, n=500)
    assert 0.0 <= lo <= tracking.brier(ps, os_) <= hi <= 0.5625


def test_scores_and_calibration_on_the_fixture(store):
    tracking.resolve(store, _key(store, KEEP), "no")    # Ann, numeric 0.3
    tracking.resolve(store, _key(store, DROP), "no")    # Ann, hedged "probably"
    tracking.resolve(store, _key(store, OTHER), "yes")  # Bob, numeric 0.9
    implied = dict(store.execute(f"SELECT sentence, implied_probability FROM ({tracking.KEYED})").fetchall())
    p_drop = implied[DROP]
    assert implied[KEEP] == pytest.approx(0.3) and implied[OTHER] == pytest.approx(0.9)
    cols, rows = tracking.scores(store, "author", n_boot=200)
    got = {r[0]: dict(zip(cols, r, strict=True)) for r in rows}
    assert got["Ann"]["n"] == 2 and got["Bob"]["n"] == 1
    assert got["Ann"]["brier"] == pytest.approx((0.09 + p_drop ** 2) / 2)
    assert got["Ann"]["log_score"] == pytest.approx((math.log(0.7) + math.log(1 - p_drop)) / 2)
    assert got["Bob"]["brier"] == pytest.approx(0.01) and got["Bob"]["base_rate"] == 1.0
    by_form = {r[0]: r[1] for r in tracking.scores(store, "form", n_boot=50)[1]}
    assert by_form == {"numeric": 2, "hedged": 1}
    _, bins = tracking.calibration(store, bins=10)
    want = sorted([(0.3, 0.0), (p_drop, 0.0), (0.9, 1.0)])
    assert [(b[0], b[2], b[3], b[4]) for b in bins] == [
        (pytest.approx(math.floor(p * 10) / 10), 1, pytest.approx(p), o) for p, o in want]
    _, ann = tracking.calibration(store, bins=2, by="author", group="Ann")
    assert [(b[2], b[4]) for b in ann] == [(1, 0.0), (1, 0.0)]


def test_calibration_plot_html_and_png(store, runner, tmp_path):
    from crux.analysis.plots import calibration_figure, write

    tracking.resolve(store, _key(store, KEEP), "no")
    fig = calibration_figure(store)
    write(fig, tmp_path / "c.html")
    write(fig, tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    assert "perfect calibration" in (tmp_path / "c.html").read_text()


def test_demo_resolutions_apply_by_sentence_text(store, tmp_path):
    from crux.demo import DEMO_RESOLUTIONS

    spec = tmp_path / "r.csv"
    spec.write_text("sentence_contains,outcome,resolved_at,source,note\n"
                    "chance the treaty is signed,no,2026-11-30,manual,demo\nno such sentence,yes,,,\n")
    assert tracking.apply_by_text(store, spec) == 1
    assert [(r[1], r[4]) for r in tracking.resolutions(store)[1]] == [("no", "demo")]
    with DEMO_RESOLUTIONS.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) >= 5 and all(tracking.parse_outcome(r["outcome"]) for r in rows)
