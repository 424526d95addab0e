"""Site fixtures: the demo corpus with NLP rows, a running ``crux serve``, a real browser.

The corpus runs the real pipeline stages that exist (``crux.pipeline.available_stages()``)
and fills whatever is still empty with synthetic rows (tests/site/synthetic.py), so the pages
are exercised now and switch to real rows as the stages land.
Browser tests need Debian's chromium: they skip without it unless CRUX_BROWSER=required.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path

import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "tests" / "screenshots"
DOC_SHOTS = ROOT / "docs" / "screenshots"  # the small PNGs the README shows
CHROMIUM = os.environ.get("CRUX_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
CRUX = [sys.executable, "-m", "crux"]


def _corpus_key(mode: str) -> str:
    """Changes when the pipeline, the demo data, the schema or the synthetic rows change."""
    h = hashlib.sha256(mode.encode())
    src = ROOT / "src" / "crux"
    for base in (src / "pipeline", src / "analysis", src / "data" / "demo", src / "db",
                 src / "crawler", src / "demo.py", src / "commands" / "process.py",
                 Path(__file__).parent / "synthetic.py"):
        files = [base] if base.is_file() else sorted(p for p in base.rglob("*")
                                                     if p.is_file() and "__pycache__" not in p.parts)
        for f in files:
            h.update(str(f.relative_to(ROOT)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def ingest_demo(db: Path) -> Path:
    """The demo documents only (no pipeline stages), published; returns the snapshot."""
    from crux.crawler.ingest import ingest_file, iter_files
    from crux.db import connect, record_run
    from crux.demo import DEMO_DIR, DEMO_SOURCES
    from crux.site.export import publish

    con = connect(db)
    try:
        with record_run(con, "tests", "ingest"):
            for path in iter_files([DEMO_DIR]):
                ingest_file(con, path, source=DEMO_SOURCES.get(path.name))
        return publish(con, db).path
    finally:
        con.close()


def build_corpus(folder: Path, cache: Path | None = None) -> tuple[Path, Path]:
    """The demo corpus in ``folder/demo.duckdb``, processed and published; (db, snapshot).

    CRUX_SITE_STAGES: ``auto`` (default: the real stages that exist, then synthetic rows for
    what is still empty), ``synthetic`` (no stages) or ``real``. The real stages take minutes
    on two cores, so their result is cached (``cache``, keyed by the pipeline's sources).
    """
    from crux.db import connect
    from crux.demo import build_demo
    from crux.pipeline import available_stages
    from crux.site.export import publish

    from .synthetic import populate

    mode = os.environ.get("CRUX_SITE_STAGES", "auto")
    stages = list(available_stages()) if mode != "synthetic" else []
    db = folder / "demo.duckdb"
    cached = cache / f"demo-{_corpus_key(mode + ','.join(stages))}.duckdb" if cache else None
    if cached is not None and cached.exists():
        shutil.copyfile(cached, db)
    else:
        if stages:
            build_demo(db, echo=lambda *_: None)  # the demo as users get it (stages, topics)
        else:
            ingest_demo(db)
        con = connect(db)
        try:
            if stages:
                from crux.pipeline import run as run_stages
                try:
                    run_stages(con, progress=False, echo=lambda *_: None)
                except Exception as e:  # another team's stage: report, test the site anyway
                    if mode == "real":
                        raise
                    warnings.warn(f"pipeline stages failed, using synthetic rows: {e}", stacklevel=1)
            populate(con)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        if cached is not None:
            tmp = cached.with_suffix(".tmp")
            shutil.copyfile(db, tmp)
            os.replace(tmp, cached)
            for old in cache.glob("demo-*.duckdb"):  # keep only the current one
                if old != cached:
                    old.unlink(missing_ok=True)
    con = connect(db)
    try:
        snapshot = publish(con, db).path
    finally:
        con.close()
    return db, snapshot


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
           ) -> tuple[Path, Path]:
    cache = Path(request.config.cache.mkdir("crux-site-corpus"))
    return build_corpus(tmp_path_factory.mktemp("site-corpus"), cache)


def build_seed(folder: Path, cache: Path | None = None) -> tuple[Path, Path]:
    """The shared seed feeds (CRUX_SHARED, corpora/seed-feeds) ingested, processed with the real
    stages and published: (db, snapshot). Cached like :func:`build_corpus`."""
    from crux.crawler.ingest import ingest_paths, iter_files
    from crux.db import connect
    from crux.pipeline import run as run_stages
    from crux.site.export import publish

    from ..conftest import shared_path

    feeds = shared_path("corpora/seed-feeds")
    h = hashlib.sha256(_corpus_key("seed").encode())
    for f in sorted(feeds.iterdir()):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    db = folder / "seed.duckdb"
    cached = cache / f"seed-{h.hexdigest()[:16]}.duckdb" if cache else None
    if cached is not None and cached.exists():
        shutil.copyfile(cached, db)
    else:
        con = connect(db)
        try:
            for path in iter_files([feeds]):
                ingest_paths(con, [path])
            run_stages(con, progress=False, echo=lambda *_: None)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        if cached is not None:
            tmp = cached.with_suffix(".tmp")
            shutil.copyfile(db, tmp)
            os.replace(tmp, cached)
            for old in cache.glob("seed-*.duckdb"):
                if old != cached:
                    old.unlink(missing_ok=True)
    con = connect(db)
    try:
        snapshot = publish(con, db).path
    finally:
        con.close()
    return db, snapshot


@pytest.fixture(scope="session")
def seed_corpus(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
                ) -> tuple[Path, Path]:
    """The seed feeds with every real stage run, built once per session."""
    cache = Path(request.config.cache.mkdir("crux-site-corpus"))
    return build_seed(tmp_path_factory.mktemp("seed-corpus"), cache)


@pytest.fixture(scope="session")
def seed_server(seed_corpus: tuple[Path, Path]):
    srv = Server(seed_corpus[0])
    yield srv
    srv.stop()


class Server:
    def __init__(self, db: Path, snapshot: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = CRUX + ["--db", str(db), "serve", "--port", str(self.port)]
        if snapshot is not None:
            cmd += ["--snapshot", str(snapshot)]
        self.log = (db.parent / f"serve-{self.port}.log").open("wb")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, cwd=db.parent)
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(self.url + "/-/versions.json", timeout=2):
                    break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("crux serve did not start: " + (
                        db.parent / f"serve-{self.port}.log").read_text()[-2000:]) from None
                time.sleep(0.2)

    def get(self, path: str, timeout: float = 10) -> bytes:
        with urllib.request.urlopen(self.url + path, timeout=timeout) as r:
            return r.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # crux serve forwards it to Datasette
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture(scope="session")
def server(corpus: tuple[Path, Path]):
    srv = Server(corpus[0])
    yield srv
    srv.stop()


def _chromium_or_skip() -> str:
    path = shutil.which(CHROMIUM) or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if path:
        return path
    if os.environ.get("CRUX_BROWSER") == "required":
        pytest.fail(f"CRUX_BROWSER=required but {CHROMIUM} is missing: apt-get install chromium")
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium); set CRUX_BROWSER=required to fail")
    raise AssertionError  # unreachable


@pytest.fixture(scope="session")
def browser():
    exe = _chromium_or_skip()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CRUX_BROWSER") == "required":
            pytest.fail("CRUX_BROWSER=required but the playwright package is missing")
        pytest.skip("the playwright package is missing: pip install 'crux[dev]'")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        yield b
        b.close()


# A 1x1 transparent PNG for images that point off the machine (the tests are offline).
_PIXEL = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                       "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


@pytest.fixture
def page(browser):
    """A fresh page whose console errors and page errors are collected in ``page.errors``."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})

    def offline(route):
        url = route.request.url
        if url.startswith("http://127.0.0.1"):
            return route.continue_()
        if route.request.resource_type == "image":
            return route.fulfill(status=200, content_type="image/png", body=_PIXEL)
        return route.abort()

    ctx.route("**/*", offline)
    pg = ctx.new_page()
    pg.errors = []
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.errors.append(f"pageerror: {e}"))
    yield pg
    ctx.close()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def doc_shot(page, name: str, selector: str | None = None) -> Path:
    """A small PNG under docs/screenshots/: 1000 x 750 px from the top, or from ``selector``."""
    DOC_SHOTS.mkdir(parents=True, exist_ok=True)
    path = DOC_SHOTS / f"{name}.png"
    y = 0
    if selector:
        top = page.locator(selector).first.evaluate("e => e.getBoundingClientRect().top + window.scrollY")
        y = max(0, int(top) - 10)
    height = page.evaluate("document.documentElement.scrollHeight")
    page.screenshot(path=str(path), full_page=True,
                    clip={"x": 0, "y": y, "width": 1000, "height": max(100, min(750, height - y))})
    try:  # a 64-colour palette keeps a page of text small; Pillow comes with matplotlib
        from PIL import Image
        with Image.open(path) as im:
            small = im.convert("RGB").quantize(colors=64)
        small.save(path, optimize=True)
    except ImportError:
        pass
    assert path.stat().st_size < 150_000, f"{path} is {path.stat().st_size} bytes"
    return path
