"""Which document pairs the linking stages look at, read from the store.

Candidates come only from local structure, never from a scan of the corpus:

- :func:`response_candidates` (the responses stage): each document's hyperlinks (``links``,
  resolved through ``document_keys``), its parent (comments) and, for a title that names
  someone ("Contra Binder ..."), that author's earlier posts;
- :func:`claim_link_pairs` (the claim_links stage): each response the responses stage found
  (and each citation whose quotes are argued with), a comment deeper in a thread with the
  thread's post, and a response with what its target responds to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .stance import normalise, title_response

if TYPE_CHECKING:
    import duckdb

__all__ = ["ClaimLinkPair", "ResponseCandidates", "claim_link_pairs", "response_candidates"]


@dataclass
class ResponseCandidates:
    """What the responses stage needs for a batch of documents."""

    # per source document: (position, target_url, target_key, target_id, anchor_text), in order
    links: dict[str, list[tuple]] = field(default_factory=dict)
    # per "Contra X" title: posts by an author the title names, published before it, latest first
    by_author: dict[str, list[str]] = field(default_factory=dict)
    # every document to load: the batch, link targets, named authors' posts, parents
    need: set[str] = field(default_factory=set)


def response_candidates(con: duckdb.DuckDBPyConnection, ids: list[str]) -> ResponseCandidates:
    out = ResponseCandidates(need=set(ids))
    for row in con.execute(
        "SELECT source_id, position, target_url, target_key, target_id, anchor_text FROM links "
        "WHERE source_id IN (SELECT unnest(?)) ORDER BY source_id, position",
        [ids],
    ).fetchall():
        out.links.setdefault(row[0], []).append(row[1:])
    titled = con.execute(
        "SELECT id, title, published_at FROM documents WHERE id IN (SELECT unnest(?)) "
        "AND kind = 'post'",
        [ids],
    ).fetchall()
    for did, title, published in titled:
        tr = title_response(title)
        if not tr:
            continue
        words = [w for w in normalise(tr[1]).split() if len(w) > 2][:4]
        if not words:
            continue
        alternatives = "|".join(re.escape(w) for w in words)
        hits = con.execute(
            "SELECT id FROM documents WHERE kind = 'post' AND id <> ? AND author IS NOT NULL "
            "AND regexp_matches(lower(author), ?) AND (? IS NULL OR published_at <= ?) "
            "ORDER BY published_at DESC LIMIT 20",
            [did, rf"\b({alternatives})\b", published, published],
        ).fetchall()
        out.by_author[did] = [h[0] for h in hits]
    for link_rows in out.links.values():
        out.need.update(r[3] for r in link_rows if r[3])
    for named_ids in out.by_author.values():
        out.need.update(named_ids)
    parents = con.execute(
        "SELECT parent_id FROM documents WHERE id IN (SELECT unnest(?)) AND parent_id IS NOT NULL",
        [ids],
    ).fetchall()
    out.need.update(p[0] for p in parents)
    return out


@dataclass
class ClaimLinkPair:
    source_id: str
    target_id: str | None  # None: a target outside the corpus (its quotes are the target)
    relation: str | None  # the responses stage's relation (or the relation of the quote answers)
    evidence: str | None  # the responses row's evidence (JSON)
    strict: bool  # a thread's post or a target's target: only confident paraphrases


def claim_link_pairs(con: duckdb.DuckDBPyConnection, doc_ids: list[str]) -> list[ClaimLinkPair]:
    resp = con.execute(
        "SELECT source_id, target_id, coalesce(nullif(relation, 'cites'), "
        "json_extract_string(evidence, '$.quote_relation')), evidence FROM responses "
        "WHERE source_id IN (SELECT unnest(?)) AND (relation <> 'cites' "
        "OR json_extract_string(evidence, '$.quote_relation') IS NOT NULL) ORDER BY source_id, target_key",
        [doc_ids],
    ).fetchall()
    # A comment deeper in a thread may answer the thread's post rather than its parent.
    thread = con.execute(
        "SELECT c.id, c.post_id FROM documents c JOIN documents p ON p.id = c.parent_id "
        "WHERE c.id IN (SELECT unnest(?)) AND c.kind = 'comment' AND p.kind = 'comment' "
        "AND c.post_id IS NOT NULL AND c.post_id <> c.parent_id ORDER BY c.id",
        [doc_ids],
    ).fetchall()
    # Likewise a reply may answer what its target answers (a comment on "Reply to X" arguing
    # with X's post; a rejoinder arguing with the post it defends).
    second = con.execute(
        "SELECT DISTINCT a.source_id, b.target_id FROM responses a JOIN responses b ON b.source_id = a.target_id "
        "WHERE a.source_id IN (SELECT unnest(?)) AND a.relation <> 'cites' AND b.relation <> 'cites' "
        "AND b.target_id IS NOT NULL AND b.target_id <> a.source_id ORDER BY ALL",
        [doc_ids],
    ).fetchall()
    answered = {(r[0], r[1]) for r in resp}
    pairs = [ClaimLinkPair(s, t, rel, ev, False) for s, t, rel, ev in resp]
    for c, p in [*thread, *second]:
        if (c, p) not in answered:
            answered.add((c, p))
            pairs.append(ClaimLinkPair(c, p, "rebuts", None, True))
    return pairs
