"""One debate model: ``crux debates --json`` and the site agree (seed feeds and demo), and the
debate pages in a real browser (the list, a debate whose target is outside the corpus, the
claim-link filter and cut-off).

The stores are built once per session with the real stages (``corpus``, ``seed_corpus``).
"""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest

from crux.analysis.debates import MIN_CLAIM_LINK_SCORE
from crux.cli import cli

from .conftest import doc_shot


def _cli_debates(runner, db: Path) -> list[dict]:
    res = runner.invoke(cli, ["debates", "--db", str(db), "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def _web_list(server) -> list[dict]:
    html = server.get("/debates").decode()
    out = []
    for m in re.finditer(r'<li data-debate="([^"]+)">(.*?)</li>', html, re.S):
        body = m.group(2)
        title = re.search(r'class="debate-title"[^>]*>(.*?)</a>', body, re.S).group(1)
        docs = re.search(r'class="n-documents">(\d+) document', body).group(1)
        outside = re.search(r'class="n-outside">(\d+) outside', body)
        out.append({"root": _unescape(m.group(1)), "title": _unescape(title), "documents": int(docs),
                    "outside": int(outside.group(1)) if outside else 0})
    return out


def _unescape(s: str) -> str:
    import html
    return html.unescape(s)


def _agree(runner, db: Path, server, *, at_most: int = 40) -> list[dict]:
    cli_list = _cli_debates(runner, db)
    web = _web_list(server)
    assert [(d["root"], d["title"], d["documents"], d["outside"]) for d in cli_list] == \
        [(d["root"], d["title"], d["documents"], d["outside"]) for d in web]
    for d in cli_list[:at_most]:
        with urllib.request.urlopen(f"{server.url}/debate/{urllib.request.quote(d['root'])}.json") as r:
            graph = json.load(r)
        assert graph["debate"] == d, d["root"]  # members, counts, name, dates
        page = server.get(f"/debate/{urllib.request.quote(d['root'])}").decode()
        assert f"<h1>Debate: “{_escape(d['title'])}”</h1>" in page
        assert page.count('<tr class="outside">') == d["outside"]
        # any member's page is the same debate
        other = next((m for m in d["members"] if m != d["root"] and not _outside(graph, m)), None)
        if other:
            again = server.get(f"/debate/{urllib.request.quote(other)}").decode()
            assert f"<h1>Debate: “{_escape(d['title'])}”</h1>" in again
    return cli_list


def _escape(s: str) -> str:
    from markupsafe import escape
    return str(escape(s))


def _outside(graph: dict, node: str) -> bool:
    return any(n["id"] == node and n["type"] == "outside" for n in graph["nodes"])


def test_cli_and_site_agree_on_the_seed_feeds(runner, seed_corpus, seed_server):
    debates = _agree(runner, seed_corpus[0], seed_server)
    # the seed posts answer works outside the corpus: those are debates too
    assert len(debates) >= 3 and all(d["outside"] >= 1 for d in debates)
    assert "Forecasting is way overrated and we should stop funding it" in \
        seed_server.get("/debates").decode()


def test_cli_and_site_agree_on_the_demo(runner, corpus, server):
    debates = _agree(runner, corpus[0], server)
    assert debates and max(d["documents"] for d in debates) >= 3


# ---- browser ---------------------------------------------------------------------------

def _open(page, server, path):
    resp = page.goto(server.url + path, wait_until="networkidle")
    assert resp is not None and resp.status == 200, f"{path}: HTTP {resp and resp.status}"


def test_debates_list_in_the_browser(runner, corpus, server, page):
    _open(page, server, "/debates")
    items = page.locator("ol.crux-debates > li")
    assert items.count() == len(_cli_debates(runner, corpus[0]))
    first = items.first.locator("a.debate-title")
    href = first.get_attribute("href")
    first.click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith(href)
    assert page.locator(".crux-chart [data-drawn='1']").count() == 1
    _open(page, server, "/debates")
    doc_shot(page, "debates")
    assert page.errors == []


def _outside_debate(runner, seed_corpus) -> dict:
    debates = _cli_debates(runner, seed_corpus[0])
    return max((d for d in debates if d["outside"]), key=lambda d: d["claim_links"])


def test_debate_whose_target_is_outside_the_corpus(runner, seed_corpus, seed_server, page):
    d = _outside_debate(runner, seed_corpus)
    _open(page, seed_server, f"/debate/{d['root']}")
    assert "No other document responds" not in page.content()
    assert page.locator("tr.outside .outside-work").count() == d["outside"]
    assert page.locator(".crux-chart [data-drawn='1'] rect.outside").count() == d["outside"]
    edges = page.locator("ul.crux-edges li")
    assert edges.count() >= 1 and "outside the corpus" in edges.first.inner_text()
    assert re.search(r"\d\.\d\d", edges.first.locator(".how").inner_text())
    # every claim link shows method and score; each quoted passage once
    answers = page.locator("li.answer")
    assert answers.count() >= 1
    for text in answers.locator(".how").all_inner_texts():
        method, score = text.split(" · ")
        assert method and float(score) >= MIN_CLAIM_LINK_SCORE
    passages = page.locator(".crux-passage blockquote.target").all_inner_texts()
    assert len(passages) == len(set(passages))
    assert page.locator("a.download[href$='.graphml']").count() == 1
    doc_shot(page, "debate-outside")
    assert page.errors == []


def test_claim_link_filter_and_cutoff(runner, seed_corpus, seed_server, page):
    d = _outside_debate(runner, seed_corpus)
    _open(page, seed_server, f"/debate/{d['root']}")
    default = page.locator("li.answer").count()
    # show all: every link of the debate, the ones below the cut-off included
    page.check("form.crux-link-filter input[name=all]")
    page.click("form.crux-link-filter input[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "all=1" in page.url
    every = page.locator("li.answer").count()
    assert every == d["claim_links"] and every >= default
    # only attacks
    page.select_option("form.crux-link-filter select[name=relation]", "attacks")
    page.click("form.crux-link-filter input[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "relation=attacks" in page.url
    rels = page.locator("li.answer").evaluate_all("els => els.map(e => e.dataset.relation)")
    assert rels and set(rels) == {"attacks"}
    n_attacks = int(re.search(r"attacks \((\d+)\)", page.locator(
        "select[name=relation] option[value=attacks]").inner_text()).group(1))
    assert len(rels) == n_attacks
    doc_shot(page, "debate-filter", "#claim-links")
    # the graph download is the same debate
    with page.expect_download() as dl:
        page.click("a.download[href$='.graphml']")
    text = Path(dl.value.path()).read_text(encoding="utf-8")
    assert text.startswith("<?xml") and "<graphml" in text and f'id="{d["root"]}"' in text
    assert page.errors == []


@pytest.fixture
def _markers_doc(corpus):
    import sqlite3
    con = sqlite3.connect(corpus[1])
    row = con.execute("""SELECT source_document_id, count(DISTINCT source_sentence_id) n FROM claim_links
                         GROUP BY 1 ORDER BY n DESC LIMIT 1""").fetchone()
    con.close()
    if row is None:
        pytest.fail("the demo has no claim links")
    return row[0]


def test_document_markers_do_not_skip(server, page, _markers_doc):
    _open(page, server, f"/doc/{_markers_doc}")
    marks = [int(x) for x in page.locator(".crux-body sup.note-ref").all_inner_texts()]
    assert marks == list(range(1, len(marks) + 1)) and len(marks) >= 2
    doc_shot(page, "document-markers", ".crux-body")
    notes = page.locator(".crux-notes .note .how").all_inner_texts()
    assert notes and all(re.search(r"\S · [01]\.\d\d$", n) for n in notes)
    assert page.errors == []
