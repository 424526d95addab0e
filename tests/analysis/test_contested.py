"""`crux claims contested` counts attacks on quoted passages of works outside the corpus too."""

from __future__ import annotations

from crux.analysis.claims_search import contested


def _doc(con, id_, title):
    con.execute("INSERT INTO documents (id, kind, title, text, content_hash, author, published_at) "
                "VALUES (?, 'post', ?, 'text', 'h', 'A', TIMESTAMP '2026-01-01')", [id_, title])


def _link(con, id_, relation, target_text):
    con.execute("INSERT INTO claim_links (id, source_sentence_id, source_document_id, target_sentence_id, "
                "target_document_id, target_text, relation, score, method) "
                "VALUES (?, 's' || ?, 'reply', NULL, NULL, ?, ?, 0.8, 'quote-reply')",
                [id_, id_, target_text, relation])


def test_quoted_outside_passages_are_counted(con):
    _doc(con, "reply", "My reply")
    _link(con, "1", "attacks", "Growth will double by 2030.")
    _link(con, "2", "attacks", "Growth will double by 2030.")
    _link(con, "3", "supports", "Growth will double by 2030.")
    _link(con, "4", "supports", "Only supported.")
    cols, rows = contested(con)
    got = [dict(zip(cols, r, strict=True)) for r in rows]
    assert len(got) == 1, got
    assert got[0]["claim"] == "Growth will double by 2030."
    assert (got[0]["attacks"], got[0]["supports"]) == (2, 1)
    assert got[0]["document"] == "quoted in My reply" and got[0]["sentence_id"] is None


def test_claims_of_the_corpus_and_quoted_passages_rank_together(con):
    _doc(con, "reply", "My reply")
    _doc(con, "post", "The post")
    con.execute("INSERT INTO sentences VALUES ('post:s1', 'post', 'post:b0', 1, 'Markets beat polls.', 0, 19, false)")
    con.execute("INSERT INTO claims VALUES ('post:s1', 'post', 0.9, 'factual', 'test')")
    for k in range(3):
        con.execute("INSERT INTO claim_links VALUES (?, ?, 'reply', 'post:s1', 'post', NULL, 'attacks', 0.8, 'test')",
                    [f"c{k}", f"sr{k}"])
    _link(con, "q1", "attacks", "An outside sentence.")
    cols, rows = contested(con)
    got = [dict(zip(cols, r, strict=True)) for r in rows]
    assert [(g["claim"], g["attacks"]) for g in got] == [("Markets beat polls.", 3), ("An outside sentence.", 1)]
    assert got[0]["document"] == "The post" and got[0]["sentence_id"] == "post:s1"
