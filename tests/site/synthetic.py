"""Plausible NLP rows for the demo corpus, for site tests when the real stages are missing.

Derived from the demo documents and ``eval/demo-expected.json``: blocks and sentences from
the HTML, claims by a crude rule, forecasts, responses and claim links from the expected
answers, and one topic run. Each table is filled only when it is empty, so rows from the
real stages (once they land) are used as they are.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = ROOT / "eval" / "demo-expected.json"
_SPLIT = re.compile(r"(?<=[.!?])[\"”’)]?\s+(?=[A-Z0-9\"“‘(@])")
_BLOCK_TAGS = ("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "pre")
TOPICS = [
    ("forecasting · grants · platforms", ["forecasting", "forecast", "grant", "platform", "question",
                                          "tournament", "funder"]),
    ("indoor air · filters · far-uvc", ["air", "filter", "filtration", "uvc", "room", "ventilation"]),
    ("calibration · track record", ["calibration", "calibrated", "track", "record", "brier", "odds"]),
]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _norm(s: str) -> str:
    return " ".join(s.replace("’", "'").replace("“", '"').replace("”", '"').split()).lower()


def _empty(con: Any, table: str) -> bool:
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0


def _blocks(html: str | None, text: str | None) -> list[tuple[str, int, str]]:
    """(kind, depth, text) per block of a document."""
    from lxml import html as lh
    out = []
    if html:
        root = lh.fromstring(f"<div>{html}</div>")
        for el in root.iter(*_BLOCK_TAGS):
            if el.tag == "p" and any(a.tag == "li" for a in el.iterancestors()):
                continue
            t = " ".join(el.text_content().split())
            if not t:
                continue
            depth = sum(1 for a in el.iterancestors() if a.tag == "blockquote")
            kind = ("heading" if el.tag.startswith("h") else "list_item" if el.tag == "li"
                    else "code" if el.tag == "pre" else "blockquote" if depth else "paragraph")
            out.append((kind, depth, t))
    if not out and text:
        out = [("paragraph", 0, " ".join(p.split())) for p in text.split("\n\n") if p.strip()]
    return out


def _segment(con: Any) -> None:
    docs = con.execute("SELECT id, html, text FROM documents ORDER BY id").fetchall()
    brows, srows = [], []
    for doc_id, html, text in docs:
        spos = 0
        for bpos, (kind, depth, btext) in enumerate(_blocks(html, text)):
            bid = f"{doc_id}:b{bpos}"
            brows.append((bid, doc_id, bpos, kind, btext, depth))
            start = 0
            for part in _SPLIT.split(btext):
                i = btext.find(part, start)
                if i < 0 or not part.strip():
                    continue
                srows.append((f"{doc_id}:s{spos}", doc_id, bid, spos, part, i, i + len(part),
                              bool(depth)))
                spos += 1
                start = i + len(part)
    con.executemany("INSERT INTO blocks VALUES (?, ?, ?, ?, ?, ?)", brows)
    con.executemany("INSERT INTO sentences VALUES (?, ?, ?, ?, ?, ?, ?, ?)", srows)


def _find_sentence(con: Any, url: str, sentence: str) -> tuple[str, str] | None:
    rows = con.execute("""SELECT s.id, s.document_id, s.text FROM sentences s
        JOIN documents d ON d.id = s.document_id WHERE d.url = ? AND d.kind = 'post'""",
                       [url]).fetchall()
    want = _norm(sentence)
    for sid, did, text in rows:
        if _norm(text) == want:
            return sid, did
    for sid, did, text in rows:
        if want[:60] in _norm(text) or _norm(text) in want:
            return sid, did
    return None


def _score(key: str) -> float:
    h = int(hashlib.sha1(key.encode()).hexdigest()[:8], 16)
    return round(0.35 + (h % 600) / 1000, 3)


def populate(con: Any) -> dict[str, int]:
    """Fill every empty NLP/debate/topic table; return rows added per table."""
    expected = json.loads(EXPECTED.read_text(encoding="utf-8"))
    added: dict[str, int] = {}

    def count(t: str) -> int:
        return con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]

    before = {t: count(t) for t in ("blocks", "sentences", "claims", "forecasts", "responses",
                                     "claim_links", "topic_runs", "topics", "topic_assignments")}
    if _empty(con, "sentences"):
        if not _empty(con, "blocks"):
            con.execute("DELETE FROM blocks")
        _segment(con)
    links = []
    for cl in expected["claim_links"]:
        s = _find_sentence(con, cl["source_url"], cl["source_sentence"])
        t = _find_sentence(con, cl["target_url"], cl["target_sentence"])
        if s and t:
            links.append((s, t, cl["relation"]))
    if _empty(con, "claims"):
        linked = {x[0] for pair in links for x in pair[:2]}
        rows = con.execute("SELECT id, document_id, text, in_quote FROM sentences").fetchall()
        claims = []
        for sid, did, text, in_quote in rows:
            if sid in linked:
                claims.append((sid, did, 0.9 if not in_quote else 0.82, "evaluation", "synthetic"))
            elif len(text) > 50 and not text.endswith("?"):
                claims.append((sid, did, _score(sid), "factual", "synthetic"))
        con.executemany("INSERT INTO claims VALUES (?, ?, ?, ?, ?)", claims)
    if _empty(con, "forecasts"):
        rows = []
        for f in expected["forecasts"]:
            found = _find_sentence(con, f["url"], f["sentence"])
            if not found:
                continue
            year = f.get("horizon")
            m = re.search(r"(by|before|in|within)[^.,;]*\d{4}|within the next \d+ years", f["sentence"])
            rows.append((found[0], found[1], f.get("probability"), None, None,
                         None if f.get("probability") is not None else "expect",
                         f"{year}-12-31" if year else None, m.group(0) if m else None,
                         f["sentence"][:120], None))
        con.executemany("INSERT INTO forecasts (sentence_id, document_id, probability, low, high, verbal, horizon, horizon_text, event, holder) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        list({r[0]: r for r in rows}.values()))
    if _empty(con, "responses"):
        ids = dict(con.execute("SELECT url, id FROM documents WHERE kind = 'post'").fetchall())
        rows = []
        for r in expected["responses"]:
            s, t = ids.get(r["source"]), ids.get(r["target"])
            if s:
                rows.append((s, t or r["target"], t, r["target"], r["relation"], 0.85,
                             json.dumps({"synthetic": True})))
        con.executemany("INSERT INTO responses VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                        rows)
    if _empty(con, "claim_links"):
        rows = []
        for (ss, sd), (ts, td), rel in links:
            lid = hashlib.sha1(f"{ss}|{ts}".encode()).hexdigest()[:16]
            rows.append((lid, ss, sd, ts, td, None, rel, 0.8, "quote-reply"))
        con.executemany("INSERT INTO claim_links VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                        "ON CONFLICT DO NOTHING", rows)
    if _empty(con, "topics"):
        run = "synthetic-documents-1"
        posts = con.execute("SELECT id, lower(coalesce(title, '') || ' ' || coalesce(text, '')) "
                            "FROM documents WHERE kind = 'post'").fetchall()
        assign, sizes = [], [0] * len(TOPICS)
        for did, text in posts:
            scores = [sum(text.count(w) for w in words) for _, words in TOPICS]
            best = max(range(len(TOPICS)), key=lambda i: scores[i])
            if scores[best] == 0:
                assign.append((run, "document", did, -1, 0.2, "fit"))
                continue
            sizes[best] += 1
            assign.append((run, "document", did, best, round(min(0.99, 0.4 + scores[best] / 40), 3),
                           "fit"))
        con.execute("DELETE FROM topic_assignments WHERE run_id = ?", [run])
        con.execute("DELETE FROM topic_runs WHERE run_id = ?", [run])
        con.execute("INSERT INTO topic_runs VALUES (?, ?, 'documents', '{}', ?, NULL)",
                    [run, _now(), len(posts)])
        for i, (label, words) in enumerate(TOPICS):
            weights = [[w, round(0.12 - j * 0.012, 3)] for j, w in enumerate(words)]
            con.execute("INSERT INTO topics VALUES (?, ?, ?, ?, ?)",
                        [run, i, label, json.dumps(weights), sizes[i]])
        con.execute("INSERT INTO topics VALUES (?, -1, 'outliers', '[]', ?)",
                    [run, sum(1 for a in assign if a[3] == -1)])
        con.executemany("INSERT INTO topic_assignments VALUES (?, ?, ?, ?, ?, ?)", assign)
    for t, n in before.items():
        if count(t) != n:
            added[t] = count(t) - n
    con.execute("INSERT INTO _runs (command, stage, started_at, finished_at, status, rows_out) "
                "VALUES ('tests', 'synthetic', ?, ?, 'ok', ?)", [_now(), _now(), sum(added.values())])
    return added
