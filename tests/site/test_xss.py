"""Hostile post bodies and titles, ingested with ``crux ingest`` and published: the browser
renders every page that shows them and no payload runs.

Every payload would call ``window.__xss(<n>)`` (defined by the test before any page script)
or set ``window.__xss_hit``; the test asserts neither happened, and that the sanitized HTML
kept no script, event handler, javascript: URL, SVG or MathML.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest

from .conftest import Server, screenshot

CALL = "window.__xss&&window.__xss(1)"
PAYLOADS = [
    f"<script>{CALL}</script>",
    f"<img src=x onerror=\"{CALL}\">",
    f"<svg onload=\"{CALL}\"><circle r=10 /></svg>",
    f"<svg><script>{CALL}</script></svg>",
    f"<math><mtext><table><mglyph><style><img src=x onerror=\"{CALL}\"></style></mglyph></table></mtext></math>",
    f"<math href=\"javascript:{CALL}\"><mi>x</mi></math>",
    f"<a href=\"javascript:{CALL}\" id=\"jslink\">click me</a>",
    f"<a href=\"JaVaScRiPt&colon;{CALL}\" id=\"jslink2\">click me too</a>",
    f"<a href=\"data:text/html,<script>{CALL}</script>\">data link</a>",
    f"<iframe src=\"javascript:{CALL}\"></iframe>",
    "<iframe srcdoc=\"<script>parent.__xss(1)</script>\"></iframe>",
    f"<object data=\"javascript:{CALL}\"></object><embed src=\"javascript:{CALL}\">",
    f"<body onload=\"{CALL}\">",
    f"<div style=\"background:url(javascript:{CALL})\">styled</div>",
    "<style>body{background:red} .crux-doc{display:none}</style><p>css</p>",
    "<div style=\"position:fixed;top:0;left:0;width:100%;height:100%;background:red\">overlay</div>",
    f"<details open ontoggle=\"{CALL}\"><summary>t</summary></details>",
    f"<input autofocus onfocus=\"{CALL}\">",
    f"<form action=\"javascript:{CALL}\"><button>go</button></form>",
    f"<p>broken <b><i>markup <a href='x' onclick='{CALL}'>unclosed",
    f"</p></div></article><script>{CALL}</script>",
    f"<!--><script>{CALL}</script>-->",
    f"<noscript><p title=\"</noscript><img src=x onerror={CALL}>\"></noscript>",
    f"<base href=\"javascript:{CALL}//\"><a href=\"/x\">rel</a>",
    f"<meta http-equiv=\"refresh\" content=\"0;url=javascript:{CALL}\">",
    f"<template><script>{CALL}</script></template>",
    f"<img src=\"data:image/svg+xml,<svg onload='{CALL}'/>\">",
    f"<blockquote cite=\"javascript:{CALL}\">quoted</blockquote>",
]
TITLES = [
    f"<script>{CALL}</script>Title",
    f"\"><img src=x onerror=\"{CALL}\">",
    f"</title><svg onload=\"{CALL}\">",
    f"{{{{ 7*7 }}}} <b onmouseover=\"{CALL}\">bold</b>",
]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    folder = tmp_path_factory.mktemp("xss")
    lines = []
    for i, body in enumerate(PAYLOADS):
        lines.append({"id": f"x{i}", "url": f"https://evil.example/p/{i}",
                      "title": TITLES[i % len(TITLES)] + f" #{i}", "author": f"<i onclick=\"{CALL}\">mallory</i>",
                      "published_at": f"2025-0{1 + i % 9}-1{i % 10}T12:00:00Z",
                      "html": f"<p>xsstest payload {i}</p>{body}<p>after</p>"})
    # a reply, so the hostile titles also show in "responded to by"/comments and debates
    lines.append({"id": "x-reply", "parent_id": "x0", "url": "https://evil.example/c/1",
                  "author": "eve", "published_at": "2025-03-01T00:00:00Z",
                  "html": f"<p>xsstest reply</p><img src=x onerror=\"{CALL}\">"})
    src = folder / "hostile.jsonl"
    src.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    db = folder / "x.duckdb"
    for args in (["ingest", str(src)], ["publish"]):
        out = subprocess.run([sys.executable, "-m", "crux", "--db", str(db), *args],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
    # hostile rows in the NLP tables too: the sentences, claims and links the pages render
    from crux.db import connect
    from crux.site.export import publish
    con = connect(db)
    con.execute("INSERT INTO blocks VALUES ('x1:b0', 'x1', 0, 'paragraph', ?, 0)", [PAYLOADS[1]])
    con.execute("INSERT INTO sentences VALUES ('x1:s0', 'x1', 'x1:b0', 0, ?, 0, ?, false)",
                [PAYLOADS[1], len(PAYLOADS[1])])
    con.execute("INSERT INTO claims VALUES ('x1:s0', 'x1', 0.9, 'factual', 'test')")
    con.execute("INSERT INTO forecasts (sentence_id, document_id, probability, low, high, verbal, horizon, horizon_text, event, holder) VALUES ('x1:s0', 'x1', 0.5, NULL, NULL, ?, DATE '2027-12-31', ?, ?, ?)",
                [PAYLOADS[2], PAYLOADS[3], PAYLOADS[0], TITLES[1]])
    con.execute("INSERT INTO responses VALUES ('x1', 'x0', 'x0', NULL, 'rebuts', 0.9, NULL)")
    con.execute("INSERT INTO claim_links VALUES ('l1', 'x1:s0', 'x1', NULL, 'x0', ?, 'attacks', 0.9, 'quote-reply')",
                [PAYLOADS[6]])
    # an outside work with a hostile name and URL, and a hostile passage quoted from it
    con.execute("INSERT INTO responses VALUES ('x2', 'named:<script>', NULL, ?, 'rebuts', 0.9, ?)",
                [f"javascript:{CALL}", json.dumps({"signals": {"named": TITLES[1]}})])
    con.execute("INSERT INTO claim_links VALUES ('l2', 'x1:s0', 'x2', NULL, NULL, ?, 'supports', 0.8, ?)",
                [PAYLOADS[0], TITLES[3]])
    # vectors, so semantic search shows the hostile claim and titles (any unit vector will do)
    rng = np.random.default_rng(0)
    for kind, item in [("claim", "x1:s0")] + [("document", f"x{i}") for i in range(len(PAYLOADS))]:
        v = rng.normal(size=384).astype(np.float32)
        con.execute("INSERT INTO embeddings VALUES (?, ?, 'all-MiniLM-L6-v2', 'h', ?)",
                    [kind, item, (v / np.linalg.norm(v)).tolist()])
    con.execute("INSERT INTO topic_runs VALUES ('r<script>', now(), 'documents', '{}', 2, NULL)")
    con.execute("INSERT INTO topics VALUES ('r<script>', 0, ?, ?, 2)",
                [TITLES[0], json.dumps([[PAYLOADS[0], 0.5], [TITLES[2], 0.3]])])
    con.execute("INSERT INTO topic_assignments VALUES ('r<script>', 'document', 'x1', 0, 0.9, 'fit')")
    publish(con, db)
    con.close()
    return db


def test_snapshot_html_is_sanitized(hostile):
    con = sqlite3.connect(Path(hostile).with_suffix(".sqlite"))
    cols = [r[1] for r in con.execute("PRAGMA table_info(documents)")]
    assert "html" not in cols and "html_safe" in cols
    for (html,) in con.execute("SELECT html_safe FROM documents"):
        low = html.lower()
        for bad in ("<script", "onerror", "onload", "onclick", "ontoggle", "onfocus", "javascript:",
                    "<svg", "<math", "<iframe", "<object", "<embed", "<style", "style=", "<form",
                    "<base", "<meta", "srcdoc", "data:"):
            assert bad not in low, (bad, html)
    con.close()


def test_no_payload_runs_in_the_browser(hostile, page):
    srv = Server(hostile)
    try:
        page.add_init_script("window.__xss_calls = []; window.__xss = function (n) {"
                             " window.__xss_calls.push(n); };")
        db = hostile.stem
        paths = ["/", "/debates", "/debate/x1", "/debate/x2", "/debate/x2?all=1&relation=supports",
                 "/debate/x1?relation=%3Cscript%3E", "/forecasts", "/topics", "/topic/r%3Cscript%3E/0",
                 f"/{db}/documents", f"/{db}/documents?_search=xsstest", f"/{db}/posts",
                 f"/{db}/claim_details", f"/{db}/forecast_details", f"/{db}/search_everywhere?q=xsstest",
                 "/-/search?q=xsstest", "/search", "/search?q=xsstest", "/search?q=payload&in=claims",
                 "/search?q=payload&in=sentences", f"/{db}/sentences?_search=xsstest",
                 "/search?q=" + quote('"><script>__xss(1)</script>'), "/doc/x-reply",
                 "/semantic", "/semantic?q=xsstest+payload",
                 "/semantic?q=" + quote('"><script>__xss(1)</script>'),
                 "/semantic?q=" + quote(f"<img src=x onerror=\"{CALL}\">")]
        paths += [f"/doc/x{i}" for i in range(len(PAYLOADS))]
        for path in paths:
            wait = "networkidle" if path.startswith("/-/search") else "load"
            # the first semantic query loads the encoder in the server: slow on a busy machine
            resp = page.goto(srv.url + path, wait_until=wait,
                             timeout=180_000 if path.startswith("/semantic?") else 30_000)
            assert resp is not None and resp.status == 200, path
            # give handlers a chance: hover, focus and click everything clickable but links out
            page.mouse.move(200, 200)
            for link in page.locator(".crux-html a, .crux-doc a#jslink, .crux-doc a#jslink2").all()[:5]:
                href = link.get_attribute("href") or ""
                assert not href.lower().startswith(("javascript:", "data:")), (path, href)
            calls = page.evaluate("window.__xss_calls")
            assert calls == [], f"{path}: a payload ran"
            assert page.evaluate("typeof window.__xss_hit") == "undefined"
            assert page.locator("script:not([src]):not([type='application/json'])").evaluate_all(
                "els => els.filter(e => e.textContent.includes('__xss')).length") == 0, path
            if path.startswith("/semantic?q=%22"):
                # the query stays text in the box, and the hostile claim is among the hits
                assert page.locator("input[name=q]").input_value() == '"><script>__xss(1)</script>'
                assert PAYLOADS[1] in page.locator("#claims").inner_text()
                screenshot(page, "xss-semantic")
            if path == "/doc/x1":
                screenshot(page, "xss-document")
                # the title and author are shown as text, not markup
                assert page.locator("h1").inner_text().startswith('"><img src=x onerror=')
                assert page.locator(".crux-body .claim").count() == 1
        errors = [e for e in page.errors if "Failed to load resource" not in e]
        assert errors == []
    finally:
        srv.stop()
