"""The claims stage: which sentences assert an arguable proposition.

A claim is a sentence in which the author asserts something a reader could dispute: an
evaluation, a factual or causal claim, a prediction, a recommendation or a stance. Headings,
questions, meta text, narration, method descriptions, acknowledgements and other people's
words (``sentences.in_quote``) are not claims.

Each candidate sentence gets a probability from a logistic regression over two kinds of
features: hand-made spaCy features (:mod:`crux.pipeline.features`) and its all-MiniLM-L6-v2
embedding. The weights ship in ``models/claims-lr-2.json`` (trained by
``scripts/train_claims.py`` on the train and dev splits of ``eval/sentences.jsonl``, the blind
sample); a sentence is stored when its probability reaches the threshold chosen there by
cross-validation grouped by document. The
``kind`` of a claim comes from rules (:func:`claim_kind`).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import StageError
from .stage import PendingDoc, Stage

if TYPE_CHECKING:
    from collections.abc import Sequence

    import duckdb
    from spacy.tokens import Doc

log = logging.getLogger(__name__)

MODEL_PATH = Path(__file__).parent / "models" / "claims-lr-2.json"
# spaCy batches per chunk handed to the parser beside the encoder (ClaimScorer._parse_and_encode)
PARSE_AHEAD_BATCHES = 8
# Blocks whose sentences are never claims, whatever the classifier says.
NON_CLAIM_BLOCKS = frozenset(("heading", "code", "math", "table_cell", "caption"))
KINDS = ("evaluation", "factual", "causal", "prediction", "recommendation", "stance")

_RECOMMEND = re.compile(
    r"\b(should|ought to|must|need to|needs to|have to|has to|i recommend|i'd recommend|i would "
    r"recommend|we recommend|it'?s (better|best|worth|important|wise) to|is (better|best|worth|"
    r"important|wise) to|the best way|make sure|don't|do not|avoid)\b",
    re.I,
)
_PREDICT = re.compile(
    r"\b(will|won't|'ll|going to|is likely to|are likely to|is unlikely to|are unlikely to|"
    r"by (the end of )?(19|20)\d\d|in the (next|coming) \w+|soon|eventually|in the future)\b",
    re.I,
)
_STANCE = re.compile(
    r"\b(i|we) (\w+ )?(think|believe|suspect|guess|agree|disagree|doubt|claim|argue|feel|expect|"
    r"bet|reckon|suppose)\b|\b(my|our) (view|guess|opinion|sense|impression|take|position) is\b|"
    r"\bin my (view|opinion)\b|\bi'?m (skeptical|convinced|confident|sure|unsure|on the side)\b",
    re.I,
)
_CAUSE = re.compile(
    r"\b(because|caus(e|es|ed|ing)|lead(s)? to|led to|result(s|ed)? in|due to|therefore|hence|"
    r"as a result|so that|which means|makes? it|explains?|driv(e|es|en) by|the reason)\b",
    re.I,
)


@dataclass
class ClaimModel:
    """The shipped classifier: standardised hand-made features + embedding → logistic regression."""

    name: str
    features: tuple[str, ...]
    mean: Any
    scale: Any
    coef: Any
    intercept: float
    threshold: float
    meta: dict[str, Any]

    @classmethod
    def load(
        cls,
        path: Path | None = None,
        *,
        what: str = "claim classifier",
        script: str = "scripts/train_claims.py",
    ) -> ClaimModel:
        import numpy as np

        path = path or MODEL_PATH
        try:
            data = json.loads(Path(path).read_text())
            if not all(
                k in data
                for k in ("name", "features", "mean", "scale", "coef", "intercept", "threshold")
            ):
                raise ValueError("fields missing")
        except (OSError, ValueError) as e:
            raise StageError(
                f"cannot read the {what} {path} ({e}); "
                f"reinstall crux or rebuild it with: python {script}"
            ) from None
        return cls(
            name=data["name"],
            features=tuple(data["features"]),
            mean=np.asarray(data["mean"], dtype=np.float64),
            scale=np.asarray(data["scale"], dtype=np.float64),
            coef=np.asarray(data["coef"], dtype=np.float64),
            intercept=float(data["intercept"]),
            threshold=float(data["threshold"]),
            meta={k: v for k, v in data.items() if k not in ("mean", "scale", "coef", "intercept")},
        )

    def probabilities(self, matrix: Any) -> Any:
        import numpy as np

        z = (matrix - self.mean) / self.scale @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-z))


def feature_matrix(
    docs: Sequence[Doc], block_kinds: Sequence[str], batch_size: int = 64, embeddings: Any = None
) -> Any:
    """The classifier's input: hand-made features, then the sentence embedding, per sentence.

    ``embeddings``: the float32 all-MiniLM-L6-v2 vectors of ``d.text`` when already computed
    (:meth:`ClaimScorer.score_with_vectors` keeps them to store); encoded here otherwise.
    """
    import numpy as np

    from .features import encode

    hand = hand_features(docs, block_kinds)
    if embeddings is None:
        embeddings = encode([d.text for d in docs], batch_size=batch_size)
    return np.hstack([hand, np.asarray(embeddings).astype(np.float64)])


def hand_features(docs: Sequence[Doc], block_kinds: Sequence[str]) -> Any:
    """The hand-made features (:func:`crux.pipeline.features.claim_features`) as a float64
    matrix, one row per parsed sentence."""
    import numpy as np

    from .features import claim_features

    return np.asarray(
        [claim_features(d, k) for d, k in zip(docs, block_kinds, strict=True)], dtype=np.float64
    ).reshape(len(docs), -1)


def parsed(
    nlp: Any, texts: Sequence[str], block_kinds: Sequence[str], batch_size: int
) -> tuple[Any, list[str]]:
    """spaCy-parse ``texts``; their hand-made features and their :func:`claim_kind` (what the
    scorer needs of a parse, the Doc objects are not kept)."""
    docs = list(nlp.pipe(texts, batch_size=batch_size))
    return hand_features(docs, block_kinds), [claim_kind(d) for d in docs]


def is_candidate(text: str, block_kind: str = "paragraph", in_quote: bool = False) -> bool:
    """Whether a sentence can be a claim at all (the rules before the classifier)."""
    t = text.strip()
    if in_quote or block_kind in NON_CLAIM_BLOCKS or len(t) < 8:
        return False
    return not t.rstrip(")\"'”’ ").endswith("?")


def claim_kind(doc: Doc) -> str:
    """evaluation | factual | causal | prediction | recommendation | stance, by rules."""
    from .features import EVALUATIVE, is_imperative

    text = doc.text
    if _RECOMMEND.search(text) or is_imperative(doc):
        return "recommendation"
    if _PREDICT.search(text):
        return "prediction"
    if _STANCE.search(text):
        return "stance"
    if _CAUSE.search(text):
        return "causal"
    if any(t.lower_ in EVALUATIVE or t.tag_ in ("JJR", "JJS", "RBR", "RBS") for t in doc):
        return "evaluation"
    return "factual"


class ClaimScorer:
    """Scores sentences in batches: spaCy ``nlp.pipe`` and batched embeddings.

    A thread parses the chunks (:data:`PARSE_AHEAD_BATCHES` spaCy batches each) while the
    encoder embeds them; the batches and the results are those of one sequential pass. spaCy
    in a second process was measured slower (BENCHMARKS.md, "Both cores busy"): the encoder's
    two torch threads lose a core to it.
    """

    def __init__(self, model: ClaimModel | None = None, batch_size: int = 64) -> None:
        from .features import load_nlp

        self.model = model or ClaimModel.load()
        self.nlp = load_nlp()
        self.batch_size = batch_size

    def score(
        self,
        texts: Sequence[str],
        block_kinds: Sequence[str] | None = None,
        in_quote: Sequence[bool] | None = None,
    ) -> list[tuple[float, str | None]]:
        """(probability, kind) per sentence; non-candidates get (0.0, None) without a model call."""
        return self.score_with_vectors(texts, block_kinds, in_quote)[0]

    def score_with_vectors(
        self,
        texts: Sequence[str],
        block_kinds: Sequence[str] | None = None,
        in_quote: Sequence[bool] | None = None,
    ) -> tuple[list[tuple[float, str | None]], dict[int, Any]]:
        """:meth:`score`, and the float32 all-MiniLM-L6-v2 vector of ``texts[i].strip()`` for
        every candidate ``i`` (the embedding the classifier used)."""
        import numpy as np

        kinds = list(block_kinds) if block_kinds is not None else ["paragraph"] * len(texts)
        quoted = list(in_quote) if in_quote is not None else [False] * len(texts)
        idx = [i for i, t in enumerate(texts) if is_candidate(t, kinds[i], quoted[i])]
        out: list[tuple[float, str | None]] = [(0.0, None)] * len(texts)
        if not idx:
            return out, {}
        hand, claim_kinds, emb = self._parse_and_encode(
            [texts[i].strip() for i in idx], [kinds[i] for i in idx]
        )
        probs = self.model.probabilities(np.hstack([hand, np.asarray(emb).astype(np.float64)]))
        for i, kind, p in zip(idx, claim_kinds, probs, strict=True):
            out[i] = (float(p), kind)
        return out, dict(zip(idx, emb, strict=True))

    def _parse_and_encode(
        self, texts: list[str], block_kinds: list[str]
    ) -> tuple[Any, list[str], Any]:
        """Hand-made features, kinds and encoder vectors of ``texts``. A thread parses the
        chunks, in order, while the encoder embeds them, in order: spaCy runs on one core and
        the encoder's threads leave the other partly idle. Chunks are whole spaCy batches, so
        the batches (and the results) are the sequential ones."""
        import numpy as np

        from .features import encode

        chunk = self.batch_size * PARSE_AHEAD_BATCHES
        spans = [(i, i + chunk) for i in range(0, len(texts), chunk)]
        if len(spans) == 1:
            hand, kinds = parsed(self.nlp, texts, block_kinds, self.batch_size)
            return hand, kinds, encode(texts, batch_size=self.batch_size)
        from concurrent.futures import ThreadPoolExecutor

        hands, kinds = [], []
        with ThreadPoolExecutor(1, "crux-parse") as threads:
            futures = [
                threads.submit(parsed, self.nlp, texts[a:b], block_kinds[a:b], self.batch_size)
                for a, b in spans
            ]
            vecs = [encode(texts[a:b], batch_size=self.batch_size) for a, b in spans]
            for f in futures:
                part_hand, part_kinds = f.result()
                hands.append(part_hand)
                kinds += part_kinds
        return np.vstack(hands), kinds, np.concatenate(vecs)


class ClaimsStage(Stage):
    """sentences → claims: the author's arguable sentences, with a probability and a kind."""

    name: ClassVar[str] = "claims"
    version: ClassVar[str] = "2:claims-lr-2"  # a retrained model gets a new name, so a new version
    reads: ClassVar[tuple[str, ...]] = ("sentences", "blocks")
    writes: ClassVar[tuple[str, ...]] = ("claims", "embeddings")
    after: ClassVar[tuple[str, ...]] = ("segment",)

    def __init__(self, model: ClaimModel | None = None, *, store_vectors: bool = True) -> None:
        from . import embed

        # the classifier's features come from the encoder path too: another path, new decisions
        self.version = type(self).version + embed.classifier_suffix()  # type: ignore[misc]
        self._model = model
        self.scorer: ClaimScorer | None = None
        self.store_vectors = store_vectors
        self.embed_model: str | None = None  # set by setup when the claims' vectors are stored
        self.vectors_stored = 0

    def setup(self, con: duckdb.DuckDBPyConnection) -> None:
        from . import embed

        if self.scorer is None:
            self.scorer = ClaimScorer(self._model)
        # The classifier embeds every candidate with the packaged all-MiniLM-L6-v2; when the
        # embed stage uses the same model (and device), the claims' vectors are stored in
        # ``embeddings`` under its model name, and the embed stage reuses them by content hash.
        encoder = self.scorer.model.meta.get("encoder", embed.DEFAULT_MODEL)
        self.embed_model = (
            embed.model_name()
            if self.store_vectors
            and encoder == embed.DEFAULT_MODEL
            and embed.shares_classifier_encoder()
            else None
        )

    def process(self, con: duckdb.DuckDBPyConnection, docs: list[PendingDoc]) -> int:
        from ..db.store import bulk_insert

        self.setup(con)
        assert self.scorer is not None
        ids = [d.id for d in docs]
        con.execute("DELETE FROM claims WHERE document_id IN (SELECT unnest(?))", [ids])
        rows = con.execute(
            "SELECT s.id, s.document_id, s.text, coalesce(b.kind, 'paragraph'), s.in_quote "
            "FROM sentences s LEFT JOIN blocks b ON b.id = s.block_id "
            "WHERE s.document_id IN (SELECT unnest(?)) ORDER BY s.document_id, s.position",
            [ids],
        ).fetchall()
        if not rows:
            return 0
        scored, vecs = self.scorer.score_with_vectors(
            [r[2] for r in rows], [r[3] for r in rows], [bool(r[4]) for r in rows]
        )
        model = self.scorer.model
        kept = [
            i for i, (p, kind) in enumerate(scored) if kind is not None and p >= model.threshold
        ]
        out = [
            (rows[i][0], rows[i][1], round(scored[i][0], 6), scored[i][1], model.name) for i in kept
        ]
        bulk_insert(con, "claims", ("sentence_id", "document_id", "score", "kind", "model"), out)
        if self.embed_model:
            self._store_vectors(con, ids, [(rows[i][0], rows[i][2], vecs[i]) for i in kept])
        return len(out)

    def _store_vectors(
        self, con: duckdb.DuckDBPyConnection, ids: list[str], claims: list[tuple[str, str, Any]]
    ) -> None:
        """The claims' vectors as the embed stage would store them (item_kind 'claim')."""
        from ..htmltext import content_hash
        from . import embed

        assert self.embed_model is not None
        embed.delete_vectors(con, self.embed_model, ("claim",), ids)
        # The vector is of the stripped text; the embed stage embeds the stored text as is.
        claims = [c for c in claims if c[1] == c[1].strip()]
        embed.store_vectors(
            con,
            self.embed_model,
            ["claim"] * len(claims),
            [c[0] for c in claims],
            [content_hash(c[1]) for c in claims],
            [c[2] for c in claims],
        )
        self.vectors_stored += len(claims)

    def finish(self, con: duckdb.DuckDBPyConnection) -> str:
        return f"{self.vectors_stored} claim vectors stored for embed" if self.embed_model else ""


__all__ = ["KINDS", "ClaimModel", "ClaimScorer", "ClaimsStage", "claim_kind", "is_candidate"]
