"""The learned response decision: a candidate pair's features and the classifier that weighs them.

Every signal the responses stage computes (:mod:`crux.pipeline.response_signals`) is a feature,
beside the hand-set score and decision (:mod:`crux.pipeline.response_decision`, which are
features too), whether the target is in the corpus, and the kind of page it is (a forum post, a
paper, an encyclopedia, a social-media page: :class:`crux.pipeline.link_params.ResponseParams`
holds the host lists). A logistic regression over them (``models/responses-lr-*.json``, trained
by ``scripts/train_responses.py`` on the labelled document pairs, picked by cross-validation
grouped by source document) gives the probability that the pair is a response: it is stored in
``responses.score`` and decides. The stage stores each candidate's feature vector in
``evidence.features``, so the training script reads the very numbers the stage computes.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..htmltext import url_host

if TYPE_CHECKING:
    from .claims import ClaimModel
    from .docview import DocView
    from .link_params import ResponseParams
    from .response_signals import Candidate

__all__ = ["FEATURES", "MODEL_PATH", "TRAIN_COMMAND", "load_model", "pair_features"]

MODEL_PATH = Path(__file__).parent / "models" / "responses-lr-3.json"
TRAIN_COMMAND = "python scripts/train_responses.py --build /tmp/crux-responses.duckdb"

SIGNALS = (
    "reply", "title", "followup", "opening", "cue", "review", "reported", "stance",
    "quotes", "quoted", "mentions", "claims", "cite", "list", "crowded", "named",
)  # fmt: skip
COUNTS = ("quotes", "quoted", "mentions", "claims")
HOSTS = ("forum", "paper", "reference", "social")
FEATURES = (
    *SIGNALS,
    *(f"n_{c}" for c in COUNTS),
    "in_corpus",
    "hand_score",
    "rule_response",
    "quotes_only",
    *(f"host_{h}" for h in HOSTS),
    "n_anchors",
    "question_post",
    "same_author",
    "own_site",
    "position",
    "title_overlap",
    "n_candidates",
    "source_length",
)


def _count(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return float(bool(v))
    return min(float(v), 5.0) / 5.0


def _host_kind(host: str, params: ResponseParams) -> str | None:
    for kind, hosts in (
        ("forum", params.forum_hosts),
        ("paper", params.paper_hosts),
        ("reference", params.reference_hosts),
        ("social", params.social_hosts),
    ):
        if any(host == h or host.endswith("." + h) for h in hosts):
            return kind
    return None


_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an and the of on in to for with is are be by at or vs from my i it this that".split()
)


def _words(text: str | None) -> set[str]:
    return {w for w in _WORD.findall((text or "").lower()) if w not in _STOP and len(w) > 2}


def pair_features(
    c: Candidate,
    src: DocView,
    hand: float,
    rule_response: bool,
    quotes_only: bool,
    params: ResponseParams,
    tgt: DocView | None = None,
    n_candidates: int = 1,
) -> list[float]:
    """The feature vector of one candidate, in :data:`FEATURES` order. ``tgt``: the target's view
    when it is in the corpus; ``n_candidates``: how many documents the source points at."""
    sig = c.signals
    out = [float(k in sig) for k in SIGNALS]
    out += [_count(sig.get(k)) if k in sig else 0.0 for k in COUNTS]
    host = url_host(c.target_url) or ""
    kind = "forum" if c.key.startswith("fm:") or c.target_id else _host_kind(host, params)
    out += [float(c.target_id is not None), float(hand), float(rule_response), float(quotes_only)]
    out += [float(kind == h) for h in HOSTS]
    out += [min(len(c.anchors), 5) / 5.0, float((src.title or "").rstrip().endswith("?"))]
    same = bool(tgt and tgt.author and src.author and tgt.author == src.author)
    own = bool(host) and host == (url_host(src.url) or "") and not same
    first = min((i for i, _ in c.context), default=None)
    position = 1.0 - first / max(len(src.sents), 1) if first is not None else 0.0
    title = _words(src.title)
    target_words = _words(tgt.title if tgt else None) | _words(
        urlsplit(c.target_url or "").path.replace("-", " ").replace("_", " ")
    )
    overlap = len(title & target_words) / len(title) if title else 0.0
    out += [float(same), float(own), position, overlap]
    out += [math.log1p(n_candidates) / math.log(50), min(len(src.sents), 400) / 400.0]
    return out


def load_model(path: Path | None = None) -> ClaimModel:
    """The shipped response classifier; a missing or unreadable file is a
    :class:`crux.errors.StageError` naming the command that rebuilds it."""
    from ..errors import StageError
    from .claims import ClaimModel

    path = path or MODEL_PATH
    model = ClaimModel.load(path, what="response model", script=TRAIN_COMMAND.split(" ", 1)[1])
    if tuple(model.features) != FEATURES:
        raise StageError(
            f"the response model {path} was trained on other features; rebuild it with: "
            f"{TRAIN_COMMAND}"
        )
    return model
