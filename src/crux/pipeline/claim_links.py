"""The claim_links stage: which sentences of a responding document answer which claims of its target.

For every candidate pair (:func:`crux.pipeline.link_candidates.claim_link_pairs`: the responses
the responses stage found, every comment's reply to its parent, a comment deeper in a thread
with the thread's post, a response with what its target responds to) the stage pairs
sentences of the responder with sentences of the target through
:class:`crux.pipeline.sentence_pairs.SentencePairs` (quote replies, answers further down,
concessions, paraphrases, replies; its docstring says how). The pairs with a thread's post or
a target's target keep only close mutual matches. Quoted passages no response covers (a quote
with no link, or from a work the document only cites) are answered too, in a document that
argues with its quotes.

Every number lives in :class:`crux.pipeline.link_params.ClaimLinkParams`; its digest (with the
quote-grouping numbers and the cue phrases) is part of the stage version, and so is the
claim-pair model's digest when the ``claim_pair_model`` setting turns it on.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any, ClassVar

from .docview import DocView, Sent, Vectors, load_docs
from .link_candidates import claim_link_pairs
from .link_params import ClaimLinkParams, digest
from .quotes import quote_blocks
from .sentence_pairs import SentencePairs
from .stage import PendingDoc, Stage

if TYPE_CHECKING:
    import duckdb

__all__ = ["ClaimLinksStage", "link_id", "links_for"]

VERSION = "5"  # of the stage's logic; the version also carries the parameters' digest


def link_id(source_sentence_id: str, target: str) -> str:
    return hashlib.sha256(f"{source_sentence_id}\0{target}".encode()).hexdigest()[:20]


def links_for(
    con: duckdb.DuckDBPyConnection,
    doc_ids: list[str],
    scorer: Any = None,
    *,
    params: ClaimLinkParams | None = None,
    vectors: Vectors | None = None,
) -> list[tuple]:
    """claim_links rows for the given responding documents (``scorer``: the claim-pair model;
    ``vectors``: the run's embedding cache)."""
    params = params or ClaimLinkParams()
    matcher = SentencePairs(params.pairs, vectors, scorer)
    priors = dict(params.prior)
    pairs = claim_link_pairs(con, doc_ids)
    views = load_docs(con, list(doc_ids) + [p.target_id for p in pairs if p.target_id])
    ends = {p.source_id for p in pairs} | {p.target_id for p in pairs}
    matcher.vectors.prefetch(con, {k: v for k, v in views.items() if k in ends})
    rows: dict[str, tuple] = {}
    covered: dict[str, set[str]] = {}  # source sentences already linked, per document
    done_quotes: dict[str, set[str]] = {}  # quotes answered as an outside target's ("*": all)
    for pair in pairs:
        src_id, tgt_id = pair.source_id, pair.target_id
        src = views.get(src_id)
        if src is None:
            continue
        tgt = views.get(tgt_id) if tgt_id else None
        if tgt_id and tgt is None:
            continue
        ev = json.loads(pair.evidence) if pair.evidence else {}
        external = tgt is None and bool(ev.get("quote"))
        quote_ids = set(ev["quote_groups"]) if external and "quote_groups" in ev else None
        reply = src.kind == "comment" and src.parent_id == tgt_id
        for m in matcher.match(
            src,
            tgt,
            prior=priors.get(pair.relation or "", "attacks"),
            external_quotes=external,
            reply=reply,
            strict=pair.strict,
            quote_ids=quote_ids,
        ):
            key = link_id(m.source.id, m.target_id or m.target_text)
            if key in rows:
                continue
            rows[key] = (
                key,
                m.source.id,
                src_id,
                m.target_id,
                tgt_id,
                m.target_text,
                m.relation,
                m.score,
                m.method,
            )
            covered.setdefault(src_id, set()).add(m.source.id)
        if tgt is None:
            done_quotes.setdefault(src_id, set()).update(
                quote_ids if quote_ids is not None else {"*"}
            )
    rows.update(_unclaimed_quotes(con, doc_ids, views, covered, done_quotes, matcher, params))
    return list(rows.values())


def _unclaimed_quotes(
    con: duckdb.DuckDBPyConnection,
    doc_ids: list[str],
    views: dict[str, DocView],
    covered: dict[str, set[str]],
    done_quotes: dict[str, set[str]],
    matcher: SentencePairs,
    params: ClaimLinkParams,
) -> dict[str, tuple]:
    """Answers to quoted passages that no response covers: a quote with no link, or from a work
    the document only cites. The target is the quoted text (``target_document_id`` null). Only
    in a document that argues with its quotes: at least ``params.argued_quotes`` of them answered
    right after (a stance cue, or a close sentence); then also its answers further down."""
    quoting: dict[str, set[str]] = {}
    first_answers: list[Sent] = []
    for d in doc_ids:
        src = views.get(d)  # links_for loaded every document of the batch
        if (
            src is None
            or "*" in done_quotes.get(d, set())
            or not any(s.in_quote for s in src.sents)
        ):
            continue
        groups = [g for g in quote_blocks(src) if g.quoted[0].id not in done_quotes.get(d, set())]
        if groups:
            quoting[d] = {g.quoted[0].id for g in groups}
            first_answers += [
                s for g in groups for s in (*g.quoted, *g.answer[: params.pairs.cued_answers])
            ]
    if not quoting:
        return {}
    # The test needs the vectors of the quotes and the few sentences after each, not the whole post's.
    matcher.vectors.prefetch_sents(con, first_answers)
    todo = {
        d: ids
        for d, ids in quoting.items()
        if len(
            {
                m.target_text
                for m in matcher.match(
                    views[d], None, external_quotes=True, quote_ids=ids, loose=False
                )
            }
        )
        >= params.argued_quotes
    }
    matcher.vectors.prefetch(con, {d: views[d] for d in todo})
    out: dict[str, tuple] = {}
    for d, ids in todo.items():
        src = views[d]
        used = covered.get(d, set())
        for m in matcher.match(src, None, external_quotes=True, quote_ids=ids):
            if m.source.id in used:
                continue
            key = link_id(m.source.id, m.target_text)
            out[key] = (
                key,
                m.source.id,
                d,
                None,
                None,
                m.target_text,
                m.relation,
                m.score,
                m.method,
            )
    return out


class ClaimLinksStage(Stage):
    """Sentence pairs between each responding document and what it responds to."""

    name: ClassVar[str] = "claim_links"
    # "5+<parameter digest>"; with the claim-pair model "6:<its file digest>+<...>" (__init__)
    version: ClassVar[str] = VERSION
    reads: ClassVar[tuple[str, ...]] = (
        "responses",
        "sentences",
        "blocks",
        "claims",
        "documents",
        "embeddings",
    )
    writes: ClassVar[tuple[str, ...]] = ("claim_links",)
    after: ClassVar[tuple[str, ...]] = ("segment", "responses")

    # Redo a document when its responses were recomputed after its claim links (a target
    # arrived or changed), or its claims were (the claims stage ran after this one).
    stale_sql: ClassVar[str | None] = (
        "SELECT DISTINCT d.id, d.content_hash FROM documents d "
        "JOIN _stage_state c ON c.stage = 'claim_links' AND c.document_id = d.id "
        "JOIN _stage_state r ON r.stage IN ('responses', 'claims') AND r.document_id = d.id "
        "WHERE r.done_at > c.done_at AND r.content_hash = d.content_hash ORDER BY d.id"
    )

    def __init__(
        self,
        pairs: Any = None,
        *,
        use_pair_model: bool | None = None,
        params: ClaimLinkParams | None = None,
    ) -> None:
        from .. import config
        from . import pair_model

        if use_pair_model is None:  # the setting: '' (rules, the default) or a model name
            use_pair_model = bool(str(config.get("claim_pair_model") or "").strip())
        self.pairs = pairs
        if self.pairs is None and use_pair_model:
            self.pairs = pair_model.load()  # a missing or corrupt file: one StageError line
        self.params = params or ClaimLinkParams()
        logic = f"6:{self.pairs.digest}" if self.pairs is not None else VERSION
        self.version = f"{logic}+{digest(self.params)}"  # type: ignore[misc]
        self.vectors = Vectors()

    def setup(self, con: duckdb.DuckDBPyConnection) -> None:
        self.vectors = Vectors()  # one embedding cache per run

    def process(self, con: duckdb.DuckDBPyConnection, docs: list[PendingDoc]) -> int:
        from ..db.store import bulk_insert

        ids = [d.id for d in docs]
        con.execute("DELETE FROM claim_links WHERE source_document_id IN (SELECT unnest(?))", [ids])
        rows = links_for(con, ids, self.pairs, params=self.params, vectors=self.vectors)
        bulk_insert(
            con,
            "claim_links",
            (
                "id",
                "source_sentence_id",
                "source_document_id",
                "target_sentence_id",
                "target_document_id",
                "target_text",
                "relation",
                "score",
                "method",
            ),
            rows,
            "ON CONFLICT (id) DO NOTHING",
        )
        return len(rows)
