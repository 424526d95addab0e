"""The real data in ../shared (CRUX_SHARED): every file either stored or reported with a reason."""

from __future__ import annotations

from crux.crawler.ingest import ingest_paths, iter_files


def test_feedparser_suite_never_crashes(con, shared):
    folder = shared("corpora/feedparser-tests")
    files = list(iter_files([folder]))
    assert len(files) == 2107
    report = ingest_paths(con, files)
    stored = [f for f in report.files if not f.error]
    failed = [f for f in report.files if f.error]
    assert len(stored) + len(failed) == 2107
    assert all(f.error.startswith(str(f.path)) for f in failed)  # each names its file
    # feedparser parses the great majority; the rest are reported, never raised
    assert len(stored) > 1900, (len(stored), [f.error for f in failed][:5])
    rejects = con.execute("SELECT count(*) FROM _rejects").fetchone()[0]
    assert rejects >= len(failed)
    print(f"feedparser suite: {len(stored)} stored, {len(failed)} reported")


def test_seed_feeds(con, shared):
    report = ingest_paths(con, [shared("corpora/seed-feeds/lesswrong-2026-04-28.rss.xml"),
                                shared("corpora/seed-feeds/abstract-analogies-2025-07-04.atom.xml")])
    assert not report.failed and report.totals.new == 7
    rows = {r[0]: r[1:] for r in con.execute(
        "SELECT title, published_at, author, html FROM documents").fetchall()}
    assert len(rows) == 7
    assert all(r[0] is not None for r in rows.values())
    forecasting = rows["Forecasting is Not Overrated and It's Probably Funded Appropriately"]
    assert forecasting[1] == "Ben" and "<blockquote>" in forecasting[2]
    contra = rows["Contra Binder on far-UVC and filtration"]
    assert contra[1] == "jefftk" and "<table>" in contra[2]
    assert not any(r[2].lstrip().startswith("Published on") for r in rows.values())
    target = con.execute(
        "SELECT l.target_url FROM links l JOIN documents d ON d.id = l.source_id "
        "WHERE d.title LIKE 'Forecasting is Not Overrated%'").fetchall()
    assert ("https://www.lesswrong.com/posts/WCutvyr9rr3cpF6hx/forecasting-is-way-overrated-and-we-should-stop-funding-it",) in target
    assert con.execute("SELECT id FROM documents WHERE title='What Sentences Cause Alignment Faking?'"
                       ).fetchone()[0] == "W36r438DeLkj3LXAD"


def test_lesswrong_2020_all_ingested_and_linked(con, shared):
    report = ingest_paths(con, [shared("corpora/lesswrong-2020")])
    assert not report.failed
    assert con.execute("SELECT count(*) FROM documents").fetchone()[0] == 1083
    resolved = con.execute("SELECT count(*) FROM links WHERE target_id IS NOT NULL").fetchone()[0]
    assert resolved > 300
    # every resolved link points at a stored document
    assert con.execute("SELECT count(*) FROM links l LEFT JOIN documents d ON d.id = l.target_id "
                       "WHERE l.target_id IS NOT NULL AND d.id IS NULL").fetchone()[0] == 0
    again = ingest_paths(con, [shared("corpora/lesswrong-2020")])
    assert again.totals.new == 0 and again.totals.changed == 0 and again.totals.unchanged == 1083


def test_forummagnum_samples_every_envelope(con, shared):
    folder = shared("corpora/forummagnum-samples")
    report = ingest_paths(con, [folder])
    assert len(report.files) == 4 and not report.failed
    for f in report.files:
        assert f.saved.new >= 1, f.path
    assert con.execute("SELECT title FROM documents WHERE id='uMQ3cqWDPHhjtiesc'").fetchone()[0] == \
        "AGI Ruin: A List of Lethalities"
