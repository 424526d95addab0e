"""The benchmark harness's machinery (not the benchmarks): replicator, measuring, report, registry."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import corpus, harness, load_all, report  # noqa: E402

A, B, C = "aaaaaaaaaaaaaaaa1", "bbbbbbbbbbbbbbbb2", "ccccccccccccccccc"
BODY = ("<p>One two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty twentyone twentytwo twentythree "
        "twentyfour twentyfive twentysix twentyseven twentyeight twentynine thirty thirtyone "
        "thirtytwo thirtythree thirtyfour thirtyfive thirtysix thirtyseven thirtyeight thirtynine "
        "forty fortyone</p>")


def _post(pid: str, links: list[str], body: str = BODY) -> dict:
    hrefs = "".join(f'<a href="https://www.lesswrong.com/posts/{t}/slug">see it</a>' for t in links)
    return {"_id": pid, "title": f"Post {pid}", "pageUrl": f"https://www.lesswrong.com/posts/{pid}/slug",
            "htmlBody": body + f"<p>{hrefs}</p>", "user": {"displayName": "Ann"}}


@pytest.fixture
def src(tmp_path: Path) -> Path:
    folder = tmp_path / "shared" / "corpora" / "tiny"
    folder.mkdir(parents=True)
    (folder / "a.json").write_text(json.dumps([_post(A, [B]), _post(B, [A, C])]))
    (folder / "b.json").write_text(json.dumps([_post(C, [A], body="<p>Short one.</p>")]))
    return folder


def test_replicate_keeps_copy_zero_and_remaps_ids_within_each_copy(src: Path, tmp_path: Path) -> None:
    out = corpus.replicate(src, tmp_path / "cache", 3)
    assert sorted(p.name for p in out.glob("*.json")) == [
        "a.c00.json", "a.c01.json", "a.c02.json", "b.c00.json", "b.c01.json", "b.c02.json"]
    assert (out / "a.c00.json").read_bytes() == (src / "a.json").read_bytes()
    ids = set()
    for k in (1, 2):
        posts = json.loads((out / f"a.c{k:02d}.json").read_text()) + \
            json.loads((out / f"b.c{k:02d}.json").read_text())
        new = {old: corpus.new_id(old, k) for old in (A, B, C)}
        assert [p["_id"] for p in posts] == [new[A], new[B], new[C]]
        assert all(len(i) == 17 and i.isalnum() for i in new.values())
        assert posts[0]["pageUrl"] == f"https://www.lesswrong.com/posts/{new[A]}/slug"
        assert f"/posts/{new[B]}/slug" in posts[0]["htmlBody"]  # a link follows its target
        assert f"/posts/{new[A]}/slug" in posts[1]["htmlBody"] and f"/posts/{new[C]}/" in posts[1]["htmlBody"]
        assert A not in posts[0]["htmlBody"] + posts[1]["htmlBody"]
        assert posts[0]["htmlBody"] != _post(A, [B])["htmlBody"].replace(B, new[B])  # words swapped
        assert f"(copy {k})" in posts[2]["htmlBody"]  # too short to rely on swaps
        ids |= set(new.values())
    assert len(ids) == 6


def test_replicate_is_deterministic_and_cached(src: Path, tmp_path: Path) -> None:
    first = corpus.replicate(src, tmp_path / "one", 2)
    second = corpus.replicate(src, tmp_path / "two", 2)
    assert (first / "a.c01.json").read_bytes() == (second / "a.c01.json").read_bytes()
    stamp = (first / "a.c01.json").stat().st_mtime_ns
    assert corpus.replicate(src, tmp_path / "one", 2) == first
    assert (first / "a.c01.json").stat().st_mtime_ns == stamp  # reused, not rewritten


def test_perturb_leaves_tags_alone() -> None:
    html = '<p class="x y z w">a b c d e f g h</p><a href="https://e.org/one two three four">x</a>'
    got = corpus.perturb_html(html, random.Random(1))
    assert got != html
    assert '<p class="x y z w">' in got and '<a href="https://e.org/one two three four">' in got
    assert sorted(got.split("</p>")[0].split(">")[1].split()) == list("abcdefgh")


def test_perturb_changes_every_sentence_of_five_words_or_more() -> None:
    """The NLP stages cache vectors by sentence: a copy must not repeat the original's sentences."""
    text = ("The first sentence has seven words here. A second one follows it closely. "
            "Third comes after that one. Short one. And the last sentence ends it all.")
    for seed in range(20):
        got = corpus.perturb_html(f"<p>{text}</p>", random.Random(seed))[3:-4]
        assert sorted(got.split()) == sorted(text.split())
        for sentence in text.split(". "):
            if len(sentence.split()) >= 5:
                assert sentence not in got, (seed, sentence, got)


def test_missing_corpus_says_where_to_put_it(tmp_path: Path) -> None:
    with pytest.raises(harness.BenchError, match="CRUX_SHARED"):
        corpus.source_corpus(tmp_path / "nowhere")


def test_run_measured_reports_child_figures(tmp_path: Path) -> None:
    m = harness.run_measured([sys.executable, "-c", "b = bytearray(60_000_000); print('hi')"],
                             cwd=tmp_path)
    assert m.returncode == 0 and m.stdout.strip() == "hi"
    assert m.peak_rss_mb > 60 and m.wall_s > 0 and m.cpu_s > 0
    small = harness.run_measured([sys.executable, "-c", "pass"], cwd=tmp_path)
    assert small.peak_rss_mb < m.peak_rss_mb - 40  # the harness's own size is not a floor
    failed = harness.run_measured([sys.executable, "-c", "import sys; sys.exit(3)"], cwd=tmp_path)
    with pytest.raises(harness.BenchError, match="status 3"):
        failed.check("exit three")


def test_statistics() -> None:
    assert harness.loglog_slope([1, 4, 16], [2, 8, 32]) == pytest.approx(1.0)
    assert harness.loglog_slope([1, 4, 16], [1, 16, 256]) == pytest.approx(2.0)
    assert harness.percentile(list(range(1, 101)), 95) == pytest.approx(95.05)
    runs = [harness.Measurement(2.0, 1.0, 100.0, 0), harness.Measurement(4.0, 3.0, 300.0, 0)]
    refs = [harness.Measurement(1.0, 0.5, 50.0, 0)]
    row = harness.pair_row("x", runs, "ref", refs, items=30)
    assert row["× wall"] == 3.0 and row["× CPU"] == 4.0 and row["× RSS"] == 4.0
    assert row["docs/s"] == 10.0 and row["ref docs/s"] == 30.0


def test_report_keeps_the_intro_and_renders_every_benchmark(tmp_path: Path) -> None:
    path = tmp_path / "BENCHMARKS.md"
    path.write_text("# Hand written\n\nKeep me.\n\n" + report.MARKER + "\n\nold tables\n")
    state = {
        "last_run": {"date": "2026-11-22 12:00", "mode": "quick", "sizes": [1], "ran": ["a", "b"],
                     "seconds": 3.0, "load at end": "1.00", "machine": report.machine(),
                     "versions": report.versions()},
        "benchmarks": {
            "a": {"date": "2026-11-22 12:00", "mode": "quick", "seconds": 1.0, "result": {
                "rows": [{"measurement": "m", "reference": "r", "wall s": 1.5, "× wall": 3.0,
                          "wall s (all)": [1, 2]}], "peak MB": 12.0, "notes": ["A note."]}},
            "b": {"date": "2026-11-22 12:00", "mode": "quick", "seconds": 0.0,
                  "result": {"skipped": "not measured yet: benchmarks/b_bench.py is not there"}},
            "c": {"date": "2026-11-22 12:00", "mode": "quick", "seconds": 0.0, "error": "boom"},
        },
    }
    titles = {"a": "Alpha", "b": "Beta", "c": "Gamma", "d": "Delta"}
    path.write_text(report.render(state, titles, report.intro(path)))
    text = path.read_text()
    assert text.startswith("# Hand written\n\nKeep me.\n") and "old tables" not in text
    assert text.count(report.MARKER) == 1
    assert "| m | r | 1.50 | 3.00× |" in text and "(all)" not in text
    assert "- peak MB: 12.0" in text and "A note." in text
    assert "_not measured yet: benchmarks/b_bench.py is not there_" in text
    assert "**Failed:** boom" in text and "### Delta" in text and "not run yet" in text
    assert "python " in text and "duckdb " in text  # versions line


def test_registry_has_the_benchmarks_and_plugins_skip_when_missing(tmp_path: Path) -> None:
    reg = load_all()
    assert {"startup", "ingest", "publish", "site", "crawl", "nlp"} <= set(reg)
    from benchmarks import plugins
    assert plugins._missing("no_such_bench") == {
        "skipped": "not measured yet: benchmarks/no_such_bench.py is not there"}


def test_a_failed_attempt_keeps_the_earlier_figures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import benchmarks
    from benchmarks import __main__ as bench_main

    def broken(ctx: harness.Context) -> dict:
        raise RuntimeError("the corpus is missing")

    monkeypatch.setitem(benchmarks.REGISTRY, "zz_broken", benchmarks.Benchmark("zz_broken", broken, "Broken", 999))
    out = tmp_path / "out"
    out.mkdir()
    earlier = {"date": "2026-11-01 10:00", "mode": "full", "seconds": 9.0,
               "result": {"rows": [{"corpus": "1×", "wall s": 42.0}]}}
    (out / "results.json").write_text(json.dumps({"benchmarks": {"zz_broken": earlier}}))
    report_path = tmp_path / "BENCHMARKS.md"
    assert bench_main.main(["--only", "zz_broken", "--out", str(out), "--report", str(report_path)]) == 1
    kept = json.loads((out / "results.json").read_text())["benchmarks"]["zz_broken"]
    assert kept["result"] == earlier["result"] and kept["date"] == "2026-11-01 10:00"
    assert "the corpus is missing" in kept["failed_attempt"]["error"]
    text = report_path.read_text()
    assert "failed:** RuntimeError: the corpus is missing" in text and "| 1× | 42.0 |" in text


def test_stage_lines_give_wall_and_cpu_seconds():
    """The process benchmark reads each stage's wall and CPU seconds from the lines crux prints
    (lines from before the CPU figure still give the wall time)."""
    from benchmarks.process import stage_cpu, stage_seconds

    from crux.pipeline.stage import StageResult

    line = StageResult("claims", docs=3, rows_out=7, seconds=12.34, cpu_seconds=21.0, note="n").summary()
    old = "segment: 1083 documents processed, 103008 rows, 0 up to date (11.6s)"
    out = f"{line}\n{old}\nsomething else (1.0s)"
    assert line == "claims: 3 documents processed, 7 rows, 0 up to date (12.3s, CPU 21.0s); n"
    assert stage_seconds(out) == {"claims": 12.3, "segment": 11.6}
    assert stage_cpu(out) == {"claims": 21.0}
