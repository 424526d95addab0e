"""Outbound URLs: the crawler fetches only http(s) on public hosts unless the user allows others.

Real HTTP over loopback. The stand-in's own host:port is allowed by ``crawl_allow_hosts`` (the
way a user allows one intranet feed), ``crawl_allow_private`` is off, and the feeds redirect to
another loopback port, to the cloud metadata address, to ``file:`` and down a long chain; an
article link names loopback by its decimal spelling. Each is refused in one line and a
``_rejects`` row, the rest of the crawl goes on; with ``crawl_allow_private`` on, the redirect to
loopback is followed. Scheme and credentials are refused when a source is added.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

from crux.cli import cli
from crux.crawler.outbound import refusal

from .fakes import FeedServer, run_crux

FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>
<link>{base}/</link>
<item><title>{title} one</title><link>{base}/posts/one</link><guid>{base}/posts/one</guid>
<pubDate>Tue, 28 Apr 2026 10:00:00 GMT</pubDate><description>Full text of {title}.</description></item>
</channel></rss>"""

SUMMARIES = """<?xml version="1.0"?><rss version="2.0"><channel><title>Summaries</title>
<item><title>Sneaky article</title><link>http://2130706433:{port}/articles/a.html</link>
<guid>sneaky</guid><pubDate>Tue, 28 Apr 2026 10:00:00 GMT</pubDate>
<description>A teaser whose page is on loopback, spelt as one number.</description></item>
</channel></rss>"""


class RedirectingServer(FeedServer):
    def __init__(self, files: dict[str, tuple[bytes, str]], redirects: dict[str, str]) -> None:
        super().__init__(files)
        self.redirects = redirects

    def respond(self, h: Any, method: str, path: str, body: bytes, hit: Any) -> None:
        if path in self.redirects:
            hit.status = 302
            return self._send(h, 302, b"", "text/plain", {"Location": self.redirects[path]})
        return super().respond(h, method, path, body, hit)


def _rejects(db: Path) -> dict[str, str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return dict(con.execute("SELECT location, reason FROM _rejects").fetchall())
    finally:
        con.close()


def _titles(db: Path) -> set[str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t for (t,) in con.execute("SELECT title FROM documents").fetchall()}
    finally:
        con.close()


HINT = "crux fetches only public hosts (set CRUX_CRAWL_ALLOW_PRIVATE=1 to crawl your own network)"


@pytest.fixture
def servers():
    with FeedServer({}) as other:
        other.put("/feed.xml", FEED.format(title="Other", base=other.url).encode())
        with RedirectingServer({}, {}) as srv:
            srv.put("/feed.xml", FEED.format(title="Plain", base=srv.url).encode())
            srv.put("/summaries.xml", SUMMARIES.format(port=srv.port).encode())
            srv.redirects.update({
                "/to-loopback": other.url + "/feed.xml",
                "/to-metadata": "http://169.254.169.254/latest/meta-data/",
                "/to-file": "file:///etc/passwd",
                **{f"/chain{i}": f"{srv.url}/chain{i + 1}" for i in range(10)},
            })
            yield srv, other


def _add(db: Path, srv: FeedServer, path: str, name: str, *extra: str) -> None:
    r = CliRunner().invoke(cli, ["--db", str(db), "add-feed", srv.url + path, "--name", name, *extra])
    assert r.exit_code == 0, r.output


def test_redirects_and_links_to_private_addresses_are_refused(tmp_path, servers):
    srv, other = servers
    db = tmp_path / "c.duckdb"
    for path, name in [("/feed.xml", "plain"), ("/to-loopback", "loopback"), ("/to-metadata", "metadata"),
                       ("/to-file", "file"), ("/chain0", "chain")]:
        _add(db, srv, path, name)
    _add(db, srv, "/summaries.xml", "summaries", "--fetch-articles")
    r = run_crux(db, "crawl", CRUX_CRAWL_ALLOW_PRIVATE="0", CRUX_CRAWL_ALLOW_HOSTS=f"127.0.0.1:{srv.port}")
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "Traceback" not in out
    assert "Plain one" in _titles(db) and "Sneaky article" in _titles(db)  # the rest went on
    assert "Other one" not in _titles(db)
    assert other.paths() == []  # nothing reached the other loopback server, robots.txt included
    rejects = _rejects(db)
    assert rejects[srv.url + "/to-loopback"] == (
        f"{srv.url}/to-loopback: redirected to {other.url}/feed.xml: 127.0.0.1 is a loopback "
        f"address; {HINT}")
    assert rejects[srv.url + "/to-metadata"] == (
        f"{srv.url}/to-metadata: redirected to http://169.254.169.254/latest/meta-data/: "
        "169.254.169.254 is a link-local address (169.254.169.254 is the cloud metadata service); "
        f"{HINT}")
    assert rejects[srv.url + "/to-file"] == (
        f"{srv.url}/to-file: redirected to file:///etc/passwd: a file: URL; crux fetches only "
        "http and https")
    assert rejects[f"http://2130706433:{srv.port}/articles/a.html"] == (
        f"http://2130706433:{srv.port}/articles/a.html: 2130706433 is a loopback address; {HINT}")
    assert f"{srv.url}/chain0: too many redirects (crux follows 5); check the URL" in out
    assert sum(p.startswith("/chain") for p in srv.paths()) == 6
    for line in (f"{srv.url}/to-loopback: redirected to", "169.254.169.254 is a link-local"):
        assert line in out


def test_with_private_allowed_the_redirect_is_followed(tmp_path, servers):
    srv, other = servers
    db = tmp_path / "c.duckdb"
    _add(db, srv, "/to-loopback", "loopback")
    r = run_crux(db, "crawl")  # the tests' environment: CRUX_CRAWL_ALLOW_PRIVATE=1
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Other one" in _titles(db)


@pytest.mark.parametrize(("url", "message"), [
    ("http://user:secret@example.org/feed.xml", "http://user:secret@example.org/feed.xml: the URL "
     "carries a user name or password; crux does not send credentials (remove them)"),
    ("file:///etc/passwd", "'file:///etc/passwd' is not an http(s) feed URL"),
    ("gopher://example.org/feed", "'gopher://example.org/feed' is not an http(s) feed URL"),
])
def test_add_feed_refuses_credentials_and_other_schemes(runner, tmp_path, url, message):
    r = runner.invoke(cli, ["--db", str(tmp_path / "c.duckdb"), "add-feed", url])
    assert r.exit_code == 1
    assert r.output.strip().splitlines()[0].startswith(f"Error: {message}")


def test_opml_entries_with_bad_urls_are_skipped_with_the_reason(runner, tmp_path):
    opml = tmp_path / "subs.opml"
    opml.write_text('<?xml version="1.0"?><opml version="2.0"><body>'
                    '<outline type="rss" text="ok" xmlUrl="https://example.org/feed.xml"/>'
                    '<outline type="rss" text="js" xmlUrl="javascript:alert(1)"/>'
                    '<outline type="rss" text="creds" xmlUrl="https://u:p@example.net/feed.xml"/>'
                    '</body></opml>')
    r = runner.invoke(cli, ["--db", str(tmp_path / "c.duckdb"), "import-opml", str(opml)])
    assert r.exit_code == 0, r.output
    assert "Warning: skipped 'javascript:alert(1)' is not an http(s) feed URL" in r.output
    assert ("Warning: skipped https://u:p@example.net/feed.xml: the URL carries a user name or "
            "password") in r.output


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "http://2130706433/", "http://0x7f.0.0.1/", "http://0177.0.0.1/", "http://127.1/",
    "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:a9fe:a9fe]/", "http://169.254.169.254/",
    "http://10.0.0.1/", "http://192.168.1.1/", "http://172.16.0.1/", "http://[fd00::1]/", "http://[fe80::1]/",
    "http://224.0.0.1/", "http://[ff02::1]/", "http://0.0.0.0/", "http://[::]/", "http://100.64.0.1/",
    "http://localhost/", "http://foo.localhost/", "http://[64:ff9b::7f00:1]/", "http://[2002:7f00:1::]/",
])
def test_non_public_addresses_are_refused(url):
    reason = refusal(url, allow_private=False)
    assert reason is not None and reason.endswith(HINT)
    assert refusal(url, allow_private=True) is None


def test_public_literal_addresses_pass():
    assert refusal("http://93.184.215.14/feed", allow_private=False) is None
    assert refusal("https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/", allow_private=False) is None


def test_an_answer_from_a_private_address_is_dropped():
    """DNS rebinding: the host resolved to a public address when checked, and the answer came
    from loopback (Scrapy's ``response.ip_address``): refused in one line, unless allowed."""
    import ipaddress

    from scrapy.exceptions import IgnoreRequest
    from scrapy.http import Request, Response

    from crux.crawler.outbound import OutboundGuardMiddleware

    url = "http://rebind.example/feed.xml"

    def answer(peer: str | None, mw: OutboundGuardMiddleware) -> Request:
        req = Request(url)
        res = Response(url, status=200, body=b"<rss/>", request=req,
                       ip_address=ipaddress.ip_address(peer) if peer else None)
        assert mw.process_response(req, res) is res
        return req

    guard = OutboundGuardMiddleware(allow_private=False)
    for peer, kind in (("127.0.0.1", "a loopback address"), ("169.254.169.254", "a link-local address (169.254.169.254 is the cloud metadata service)"),
                       ("::1", "a loopback address"), ("10.1.2.3", "a private address")):
        req = Request(url)
        res = Response(url, status=200, body=b"<rss/>", request=req, ip_address=ipaddress.ip_address(peer))
        with pytest.raises(IgnoreRequest):
            guard.process_response(req, res)
        assert req.meta["crux_refused"] and req.meta["crux_error"] == (
            f"rebind.example answered from {peer}, {kind}, although it resolved to a public address "
            "when checked (DNS rebinding?); the answer is dropped "
            "(set CRUX_CRAWL_ALLOW_PRIVATE=1 to crawl your own network)")
    answer("93.184.215.14", guard)  # a public peer
    answer(None, guard)  # no address known (a cached answer)
    answer("127.0.0.1", OutboundGuardMiddleware(allow_private=True))
    answer("127.0.0.1", OutboundGuardMiddleware(allow_private=False, allow_hosts="rebind.example"))
