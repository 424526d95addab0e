"""crux.analysis.debates on hand-written rows: outside works are nodes, counts, grouping, GraphML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from crux.analysis import debates as D


def _doc(con, did, title, when, kind="post", parent=None):
    con.execute("INSERT INTO documents (id, kind, parent_id, title, author, published_at, content_hash, url) "
                "VALUES (?, ?, ?, ?, 'ann', ?, 'h', ?)", [did, kind, parent, title, when, f"https://x.example/{did}"])


def _rows(con):
    _doc(con, "a", "Contra the paper", "2025-01-02")
    _doc(con, "b", "A reply to Contra", "2025-01-03")
    _doc(con, "c", "Unrelated", "2025-01-04")
    _doc(con, "d", "Only cites", "2025-01-05")
    con.execute("INSERT INTO responses VALUES ('a', 'arxiv.org/abs/1234-the-big-paper', NULL, "
                "'https://arxiv.org/abs/the-big-paper-2', 'rebuts', 0.9, ?)",
                [json.dumps({"relation_from": "title: contra"})])
    con.execute("INSERT INTO responses VALUES ('b', 'a', 'a', 'https://x.example/a', 'supports', 0.7, NULL)")
    con.execute("INSERT INTO responses VALUES ('d', 'c', 'c', 'https://x.example/c', 'cites', 0.5, NULL)")
    for i, (src, tsid, tdoc, text, rel, score) in enumerate([
            ("a", None, None, "The paper says X.", "attacks", 0.9),
            ("a", None, None, "The paper says X.", "attacks", 0.3),
            ("a", None, None, "The paper also says Y.", "supports", 0.6),
            ("b", "a:s0", "a", None, "supports", 0.8)]):
        con.execute("INSERT INTO sentences VALUES (?, ?, ?, ?, ?, 0, 5, false)",
                    [f"{src}:s{i + 1}", src, f"{src}:b0", i + 1, f"answer {i}"])
        con.execute("INSERT INTO claim_links VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'quote-answer')",
                    [f"l{i}", f"{src}:s{i + 1}", src, tsid, tdoc, text, rel, score])
    con.execute("INSERT INTO sentences VALUES ('a:s0', 'a', 'a:b0', 0, 'A claim of a.', 0, 5, false)")


def test_outside_works_are_nodes_and_cites_do_not_join(con):
    _rows(con)
    [d] = D.debates(con)
    s = d.summary()
    assert s["root"] == "a" and s["title"] == "Contra the paper"
    assert s["members"] == sorted(["a", "b", "arxiv.org/abs/1234-the-big-paper"])
    assert (s["documents"], s["outside"], s["posts"]) == (2, 1, 2)
    assert (s["responses"], s["claim_links"], s["rebuttals"]) == (2, 4, 1 + 2)
    outside = next(n for n in d.nodes if n.kind == "outside")
    assert outside.title == "The big paper"  # from the URL's slug, its "-2" dropped


def test_outside_titles():
    assert D.outside_title("named:seemingly conscious ai risk", None, "Seemingly Conscious AI Risk") == \
        "Seemingly Conscious AI Risk"
    assert D.outside_title("named:some book") == "some book"
    assert D.outside_title("x.org/p/abc123", "https://x.org/p/abc123") == "https://x.org/p/abc123"


def test_group_claim_links_passage_once_cutoff_and_relation():
    rows = [{"source_document_id": "a", "source_title": "A", "source_text": f"ans {i}",
             "target_document_id": None, "target_title": None, "target_text": text,
             "relation": rel, "method": "m", "score": score}
            for i, (text, rel, score) in enumerate([("P", "attacks", 0.9), ("P", "supports", 0.7),
                                                    ("P", "attacks", 0.2), ("Q", "attacks", 0.6)])]
    g = D.group_claim_links(rows, min_score=0.5)
    assert (g["shown"], g["hidden"]) == (3, 1)
    [group] = g["groups"]
    assert [p["text"] for p in group["passages"]] == ["P", "Q"]
    assert [a["score"] for a in group["passages"][0]["answers"]] == [0.9, 0.7]
    only = D.group_claim_links(rows, min_score=0.0, relation="attacks")
    assert only["shown"] == 3 and only["relations"] == {"attacks": 3, "supports": 1}


def test_graph_and_graphml(con):
    _rows(con)
    g = D.debate_graph(con, "b")
    kinds = {n["type"] for n in g["nodes"]}
    assert kinds == {"document", "outside", "claim", "passage"}
    passages = [n for n in g["nodes"] if n["type"] == "passage"]
    assert sorted(p["text"] for p in passages) == ["The paper also says Y.", "The paper says X."]
    resp = [e for e in g["edges"] if e["type"] == "response"]
    assert {(e["source"], e["relation"], e["method"]) for e in resp} == {
        ("a", "rebuts", "title: contra"), ("b", "supports", "rules")}
    root = ET.fromstring(D.to_graphml(g))
    ns = {"g": "http://graphml.graphdrawing.org/xmlns"}
    assert len(root.findall(".//g:node", ns)) == len(g["nodes"])
    assert len(root.findall(".//g:edge", ns)) == len(g["edges"])
    assert D.debate_graph(con, "c") is None
