"""``crawl()``: every enabled feed and forum source in one Scrapy ``CrawlerProcess``.

**Once per process.** Twisted's reactor cannot be restarted, so :func:`crawl` can run once in
a Python process; a second call raises :class:`~crux.errors.CruxError`. Code that needs to
crawl and then go on (``crux refresh``) calls :func:`crawl_in_subprocess`, which runs
``python -m crux.crawler.run`` and reads the report back as JSON. The subprocess opens the
database itself, so the caller must not hold it open for writing meanwhile (DuckDB allows one
writing process).

The crawl writes from its own process: spiders yield documents, the item pipeline saves them
in batches of 100, one transaction per batch (see :mod:`crux.crawler.pipelines`).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import CruxError, InputError, StageError

if TYPE_CHECKING:
    import duckdb

    from .pipelines import SourceState

log = logging.getLogger(__name__)
_started = False
CRAWLED_KINDS = ("feed", "forummagnum")


@dataclass
class SourceReport:
    name: str
    kind: str
    status: str
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    deleted: int = 0
    rejected: int = 0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class CrawlReport:
    sources: list[SourceReport] = field(default_factory=list)
    requests: int = 0
    seconds: float = 0.0

    @property
    def failed(self) -> list[SourceReport]:
        return [s for s in self.sources if s.error]

    def total(self, key: str) -> int:
        return sum(getattr(s, key) for s in self.sources)

    def summary(self) -> str:
        if not self.sources:
            return (
                "no sources to crawl: add some with crux add-feed URL or crux add-forum lesswrong"
            )
        n = len(self.sources)
        text = (
            f"{n} source{'s' if n != 1 else ''}: {self.total('new')} new, "
            f"{self.total('changed')} changed, {self.total('unchanged')} unchanged documents"
        )
        if self.total("deleted"):
            text += f", {self.total('deleted')} marked deleted"
        if self.total("rejected"):
            text += f", {self.total('rejected')} items rejected (see the _rejects table)"
        if self.failed:
            text += f"; {len(self.failed)} failed ({', '.join(s.name for s in self.failed)}; see crux sources)"
        return text + f" ({self.requests} requests, {self.seconds:.1f} s)"

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> CrawlReport:
        obj = json.loads(text)
        return cls(
            sources=[SourceReport(**s) for s in obj["sources"]],
            requests=obj["requests"],
            seconds=obj["seconds"],
        )


def select_sources(
    con: duckdb.DuckDBPyConnection, names: Sequence[str] | None
) -> list[SourceState]:
    """States for the named sources (all enabled feed/forum sources when ``names`` is empty)."""
    from .pipelines import SourceState

    rows = con.execute(
        "SELECT id, name, kind, url, enabled, config, etag, last_modified, watermark FROM sources "
        "ORDER BY name"
    ).fetchall()
    by_name = {r[1]: r for r in rows}
    if names:
        unknown = [n for n in names if n not in by_name]
        if unknown:
            crawlable = [r[1] for r in rows if r[2] in CRAWLED_KINDS]
            raise InputError(
                f"--source {unknown[0]!r}: no such source; choose from: "
                f"{', '.join(crawlable) or 'none yet (crux add-feed / add-forum)'}"
            )
        chosen = [by_name[n] for n in dict.fromkeys(names)]
        wrong = [r for r in chosen if r[2] not in CRAWLED_KINDS]
        if wrong:
            raise InputError(
                f"--source {wrong[0][1]!r} is a {wrong[0][2]} source; only feeds and "
                "forums are crawled (files come in with crux ingest)"
            )
    else:
        chosen = [r for r in rows if r[2] in CRAWLED_KINDS and r[4]]
    states = []
    for sid, name, kind, url, _enabled, cfg, etag, modified, watermark in chosen:
        try:
            config = json.loads(cfg or "{}")
        except ValueError:
            config = {}
        states.append(
            SourceState(
                id=sid,
                name=name,
                kind=kind,
                url=url or "",
                config=config,
                etag=etag,
                last_modified=modified,
                watermark=watermark,
            )
        )
    return states


def crawl(
    db: str | os.PathLike[str] | duckdb.DuckDBPyConnection,
    sources: Sequence[str] | None = None,
    since: datetime | None = None,
    max_items: int | None = None,
    progress: bool = False,
    on_progress: Callable[[SourceState], Any] | None = None,
    settings: dict[str, Any] | None = None,
) -> CrawlReport:
    """Crawl the named (default: every enabled) feed and forum source into the database.

    Can run once per process (see the module docstring); use :func:`crawl_in_subprocess`
    to crawl more than once or to keep the calling process free of Twisted.
    """
    global _started
    if _started:
        raise StageError(
            "crawl() already ran in this process (Twisted's reactor cannot restart); "
            "use crux.crawler.run.crawl_in_subprocess()"
        )
    from ..db import connect, record_run

    own = isinstance(db, str | os.PathLike)
    con: duckdb.DuckDBPyConnection = connect(db) if isinstance(db, str | os.PathLike) else db
    try:
        states = select_sources(con, sources)
        if not states:
            return CrawlReport()
        _started = True
        callback = on_progress
        if callback is None and progress:
            callback = _tqdm_progress(states)
        with record_run(
            con,
            "crawl",
            "crawl",
            {"sources": [s.name for s in states], "since": since, "max_items": max_items},
        ) as run:
            report = _run_process(con, states, since, max_items, callback, settings, run.id)
            run.rows_in = sum(s.new + s.changed + s.unchanged for s in report.sources)
            run.rows_out = sum(s.new + s.changed for s in report.sources)
            if report.failed:
                run.status = "partial" if len(report.failed) < len(report.sources) else "failed"
                run.error = "; ".join(f"{s.name}: {s.error}" for s in report.failed)[:1000]
        return report
    finally:
        if own:
            con.close()


def _run_process(
    con: duckdb.DuckDBPyConnection,
    states: list[SourceState],
    since: datetime | None,
    max_items: int | None,
    callback: Callable[[SourceState], Any] | None,
    settings: dict[str, Any] | None,
    run_id: int,
) -> CrawlReport:
    import time

    from scrapy.crawler import CrawlerProcess

    from .pipelines import CrawlStore
    from .settings import scrapy_settings
    from .spiders.feeds import FeedsSpider
    from .spiders.forummagnum import ForumMagnumSpider

    store = CrawlStore(con, states, run_id=run_id, max_items=max_items, progress=callback)
    # CrawlerProcess resets the scrapy loggers to DEBUG and logs its versions; crux's -v decides
    quiet = not logging.getLogger("crux").isEnabledFor(logging.INFO)
    if quiet:
        logging.disable(logging.INFO)
    try:
        process = CrawlerProcess(
            scrapy_settings({"LOG_INSTALL_ROOT_HANDLER": False, **(settings or {})})
        )
    finally:
        logging.disable(logging.NOTSET)
    for noisy in ("scrapy", "twisted", "py.warnings", "protego", "trafilatura", "htmldate"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL if quiet else logging.INFO)
    crawlers = []
    for spider_cls, kind in ((FeedsSpider, "feed"), (ForumMagnumSpider, "forummagnum")):
        names = [s.name for s in states if s.kind == kind]
        if names:
            crawler = process.create_crawler(spider_cls)
            crawlers.append(crawler)
            process.crawl(crawler, store=store, source_names=names, since=since)
    started = time.monotonic()
    process.start()
    store.finish_all()  # sources whose spider never opened
    report = CrawlReport(seconds=round(time.monotonic() - started, 3))
    for crawler in crawlers:
        stats = crawler.stats.get_stats() if crawler.stats else {}
        report.requests += int(stats.get("downloader/request_count", 0))
    for s in states:
        report.sources.append(
            SourceReport(
                name=s.name,
                kind=s.kind,
                status=s.status,
                new=s.saved.new,
                changed=s.saved.changed,
                unchanged=s.saved.unchanged,
                deleted=s.deleted,
                rejected=s.rejected,
                error=s.error,
                warnings=s.warnings[:20],
            )
        )
    if store.storage_error:  # the whole crawl failed, not its sources: say so once
        from ..errors import StorageError

        raise StorageError(store.storage_error)
    return report


def _tqdm_progress(states: list[SourceState]) -> Callable[[SourceState], Any]:
    """One line per source on stderr: documents stored so far, new / changed / unchanged."""
    from tqdm import tqdm

    width = max(len(s.name) for s in states)
    bars = {
        s.name: tqdm(
            desc=s.name.ljust(width),
            unit="doc",
            position=i,
            file=sys.stderr,
            leave=True,
            bar_format="{desc}  {postfix}",
        )
        for i, s in enumerate(states)
    }

    def update(state: SourceState) -> None:
        bar = bars[state.name]
        text = f"{state.saved.new} new, {state.saved.changed} changed, {state.saved.unchanged} unchanged"
        if state.finished:
            text += f"  [{state.status}]" + (f" {state.error}" if state.error else "")
        bar.set_postfix_str(text, refresh=True)
        if state.finished:
            bar.close()

    return update


def crawl_in_subprocess(
    db_path: str | os.PathLike[str],
    sources: Sequence[str] | None = None,
    since: datetime | None = None,
    max_items: int | None = None,
    timeout: float | None = None,
) -> CrawlReport:
    """:func:`crawl` in a fresh Python process (any number of times per process)."""
    args = {
        "db": str(db_path),
        "sources": list(sources or []),
        "since": since.isoformat() if since else None,
        "max_items": max_items,
    }
    proc = subprocess.run(
        [sys.executable, "-m", "crux.crawler.run", json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        err = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise StageError(f"the crawl subprocess failed (exit {proc.returncode}): {err}")
    return CrawlReport.from_json(lines[-1])


def _main(argv: list[str]) -> int:
    args = json.loads(argv[0])
    since = datetime.fromisoformat(args["since"]) if args.get("since") else None
    try:
        report = crawl(Path(args["db"]), args.get("sources") or None, since, args.get("max_items"))
    except CruxError as e:
        print(f"Error: {e}", file=sys.stderr)
        return e.exit_code
    print(report.to_json())
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
