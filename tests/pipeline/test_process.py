"""``crux process`` for the segment and embed stages, through the CLI."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from crux.cli import cli

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>Tiny blog</title><link>https://tiny.example/</link>
<item><title>Markets</title><link>https://tiny.example/p/1</link><guid>https://tiny.example/p/1</guid>
<content:encoded><![CDATA[<p>Markets beat polls. I think so.</p><blockquote><p>Polls are fine.</p></blockquote>]]></content:encoded>
</item>
<item><title>Polls</title><link>https://tiny.example/p/2</link><guid>https://tiny.example/p/2</guid>
<description>Only a summary. Two sentences.</description></item>
</channel></rss>"""

STAGES = ["--stage", "segment", "--stage", "embed"]


def _counts(db: Path) -> tuple[int, int, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return tuple(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[return-value]
                     for t in ("blocks", "sentences", "embeddings"))
    finally:
        con.close()


def test_process_twice_second_run_does_nothing(runner, db_path, tmp_path):
    feed = tmp_path / "tiny.xml"
    feed.write_text(RSS)
    assert runner.invoke(cli, ["--db", str(db_path), "ingest", str(feed)]).exit_code == 0
    first = runner.invoke(cli, ["process", "--db", str(db_path), *STAGES, "--threads", "2"])
    assert first.exit_code == 0, first.output
    assert "segment: 2 documents processed" in first.output
    # each stage's wall and CPU time (every thread), so a reader sees how busy the cores were
    assert re.search(r"^segment: .* \(\d+\.\ds, CPU \d+\.\ds\)$", first.output, re.M), first.output
    assert "embed: 2 documents processed, 3 rows" in first.output  # 2 documents + 1 quote
    counts = _counts(db_path)
    assert counts == (3, 5, 3)
    second = runner.invoke(cli, ["process", "--db", str(db_path), *STAGES])
    assert second.exit_code == 0, second.output
    assert "segment: 0 documents processed, 0 rows, 2 up to date" in second.output
    assert "embed: 0 documents processed, 0 rows, 2 up to date" in second.output
    assert _counts(db_path) == counts


def _has_cuda() -> bool:
    import torch
    return torch.cuda.is_available()


@pytest.mark.skipif(_has_cuda(), reason="needs a machine without a CUDA GPU")
def test_process_bad_device_is_one_line(runner, db_path, tmp_path):
    feed = tmp_path / "tiny.xml"
    feed.write_text(RSS)
    runner.invoke(cli, ["--db", str(db_path), "ingest", str(feed)])
    result = runner.invoke(cli, ["process", "--db", str(db_path), *STAGES, "--device", "cuda"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "Error: --device cuda: no CUDA GPU is available here; use --device cpu")
    # nothing stored was lost: segment ran, embed wrote nothing
    assert _counts(db_path)[1] == 5 and _counts(db_path)[2] == 0
