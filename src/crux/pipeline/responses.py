"""The responses stage: which document answers which, and how (rebuts | supports | extends | cites).

Candidates come only from local structure (:func:`crux.pipeline.link_candidates.response_candidates`:
hyperlinks, parents, a title-named author's posts). Each collects signals
(:mod:`crux.pipeline.response_signals`: reply, title, opening, cue, follow-up, quotes, claim
pairs, citation cues, ...), and :mod:`crux.pipeline.response_decision` weighs them into a score
and a relation; candidates that are not responses are kept as ``cites``. A pass after the
batches makes "supports a rebuttal of T" a rebuttal of T. Outside targets keep ``target_url``,
the quoted text and the quotes' ids (``evidence.quote_groups``, which the claim_links stage
answers); their ``target_id`` fills in when they are ingested (the stage re-examines documents
whose link targets were (re)segmented after them).

Every number lives in :class:`crux.pipeline.link_params.ResponseParams`; its digest (with the
quote-grouping numbers and the cue phrases) is part of the stage version, so a changed number
redoes the stage.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from .docview import Vectors, load_docs
from .link_candidates import response_candidates
from .link_params import ResponseParams, digest
from .response_decision import decide
from .response_model import MODEL_PATH, load_model
from .response_signals import candidate_signals
from .sentence_pairs import SentencePairs
from .stage import PendingDoc, Stage

if TYPE_CHECKING:
    import duckdb

    from .claims import ClaimModel

__all__ = ["ResponsesStage", "VERSION"]

VERSION = "5"  # of the stage's logic; the version also carries the parameters' digest


class ResponsesStage(Stage):
    """Document-level responses from links, replies, titles, quotes and claim similarity."""

    name: ClassVar[str] = "responses"
    version: ClassVar[str] = VERSION  # "5+<parameter digest>" (__init__)
    reads: ClassVar[tuple[str, ...]] = (
        "documents",
        "links",
        "document_keys",
        "blocks",
        "sentences",
        "claims",
        "embeddings",
    )
    writes: ClassVar[tuple[str, ...]] = ("responses",)
    after: ClassVar[tuple[str, ...]] = ("segment",)
    batch_size: ClassVar[int] = 128

    # Documents already linked whose link target or parent was (re)segmented since (a target
    # that arrived later, or changed), or whose own or target's claims were (re)computed since
    # (the claims stage ran after this one: `crux process --stage responses` first).
    stale_sql: ClassVar[str | None] = (
        "SELECT DISTINCT d.id, d.content_hash FROM documents d "
        "JOIN _stage_state r ON r.stage = 'responses' AND r.document_id = d.id "
        "AND r.content_hash = d.content_hash "
        "JOIN (SELECT source_id, target_id FROM links WHERE target_id IS NOT NULL "
        "      UNION ALL SELECT id, parent_id FROM documents WHERE parent_id IS NOT NULL "
        "      UNION ALL SELECT id, id FROM documents) l "
        "  ON l.source_id = d.id "
        "JOIN _stage_state g ON g.stage IN ('segment', 'claims') AND g.document_id = l.target_id "
        "WHERE g.done_at > r.done_at ORDER BY d.id"
    )

    def __init__(
        self, params: ResponseParams | None = None, model_path: Path | None = MODEL_PATH
    ) -> None:
        """``model_path``: the learned decision (:mod:`crux.pipeline.response_model`); None
        decides by the hand-set rule alone (the training script builds its store so)."""
        self.params = params or ResponseParams()
        self.model_path = model_path
        model = model_path.stem if model_path else "rules"
        self.version = f"{VERSION}+{digest(self.params)}+{model}"  # type: ignore[misc]
        self.vectors = Vectors()
        self.model: ClaimModel | None = None

    def setup(self, con: duckdb.DuckDBPyConnection) -> None:
        self.vectors = Vectors()  # one embedding cache per run
        self.model = load_model(self.model_path) if self.model_path else None

    def process(self, con: duckdb.DuckDBPyConnection, docs: list[PendingDoc]) -> int:
        from ..db.store import bulk_insert

        ids = [d.id for d in docs]
        con.execute("DELETE FROM responses WHERE source_id IN (SELECT unnest(?))", [ids])
        found = response_candidates(con, ids)
        views = load_docs(con, list(found.need))
        hot = {
            d for d in ids if d in views and (views[d].kind == "comment" or d in found.by_author)
        }
        self.vectors.prefetch(
            con,
            {
                k: v
                for k, v in views.items()
                if k in hot or any(views[h].parent_id == k for h in hot)
            },
        )
        matcher = SentencePairs(self.params.pairs, self.vectors)
        rows: list[tuple] = []
        for d in ids:
            if d in views:
                cands, tr = candidate_signals(
                    d, views, found.links.get(d, []), found.by_author, matcher, self.params
                )
                rows.extend(decide(views[d], cands, tr, views, self.params, self.model))
        bulk_insert(
            con,
            "responses",
            ("source_id", "target_key", "target_id", "target_url", "relation", "score", "evidence"),
            rows,
            "ON CONFLICT (source_id, target_key) DO NOTHING",
        )
        return len(rows)

    def finish(self, con: duckdb.DuckDBPyConnection) -> str:
        # Supporting a rebuttal of T rebuts T ("I side with X's reply to Y").
        changed = con.execute(
            "UPDATE responses SET relation = 'rebuts' FROM ("
            "  SELECT DISTINCT a.source_id, c.target_key FROM responses a "
            "  JOIN responses b ON b.source_id = a.target_id AND b.relation = 'rebuts' "
            "  JOIN responses c ON c.source_id = a.source_id AND c.target_id = b.target_id "
            "  WHERE a.relation = 'supports' AND c.relation IN ('supports', 'extends')) t "
            "WHERE responses.source_id = t.source_id AND responses.target_key = t.target_key "
            "RETURNING 1"
        ).fetchall()
        return f"{len(changed)} relations inferred" if changed else ""
