"""The responses stage's decision: is a candidate a response, and how (rebuts | supports | extends)?

The score is the weighted sum of the candidate's signals (:mod:`crux.pipeline.response_signals`;
weights in :class:`crux.pipeline.link_params.ResponseParams`), clipped to [0, 1]. A candidate is
a response when the score reaches ``response_min`` and one signal says the document answers it
(reply, title, follow-up, cue, quotes, stance, a named work, a review, or two claim pairs): an
opening link and a reporting verb alone are a citation. Its relation comes from the follow-up
cue (extends), the cue phrases around the link (anchor text removed: "Sasha Vey against"
describes the target), the title, the stance of the answers to its quotes, then the majority
stance of the claim pairs. Otherwise the row is kept as ``cites``. Quoting an outside work that
is not a forum post is a citation whose quote answers keep their relation
(``evidence.quote_relation``, which the claim_links stage answers).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from ..htmltext import url_host
from .docview import DocView
from .link_params import ResponseParams
from .response_model import pair_features
from .response_signals import Candidate, title_matches
from .stance import link_relation, sentence_stance, summary_cue

if TYPE_CHECKING:
    from .claims import ClaimModel

__all__ = ["decide", "score"]


def score(sig: dict[str, Any], params: ResponseParams) -> float:
    """The weighted sum of the signals present, clipped to [0, 1]."""
    total = 0.0
    for k, w in params.weights:
        if k in sig:
            total += w
    if "cite" in sig and ("title" in sig or "quotes" in sig or "reply" in sig or "followup" in sig):
        total -= params.weight("cite") / 2  # a strong signal outweighs a "see also"
    if "opening" in sig and "cue" in sig:
        total += params.opening_cue_bonus
    return max(0.0, min(1.0, total))


def decide(
    src: DocView,
    cands: list[Candidate],
    tr: tuple[str, str] | None,
    views: dict[str, DocView],
    params: ResponseParams,
    model: ClaimModel | None = None,
) -> list[tuple]:
    """responses rows (source_id, target_key, target_id, target_url, relation, score, evidence).

    With ``model`` (:mod:`crux.pipeline.response_model`) the learned probability is the score
    and decides; the hand-set rule below is then one of its features. Without it the rule
    decides and the hand-set score is stored."""
    rows = []
    for c in cands:
        sig = c.signals
        tgt = views.get(c.target_id) if c.target_id else None
        s = score(sig, params)
        strong = params.pairs.strong_cue
        cued = any(sentence_stance(m.source.text, m.target_text)[1] >= strong for m in c.matches)
        evidence_of_response = (
            any(k in sig for k in params.evidence)
            or sig.get("claims", 0) >= params.claim_pairs_evidence
            or ("claims" in sig and cued and "mentions" in sig)
        )
        # Quoting an outside work is mostly exposition or evidence ("As Bryan Caplan says:", a
        # primary source, a definition): alone, even with a reply after it, the document only
        # cites it. The answers to its quotes still make claim links ("quote_relation").
        # A post or comment of a forum (or of the source's own site) that is not in the corpus
        # is quoted to be answered more often: it keeps the quotes as evidence.
        quotes_only = (
            tgt is None
            and not _forum_post(c.key, c.target_url, src.url)
            and not any(k in sig for k in params.evidence if k != "quotes")
        )
        relation, why, quote_relation = "cites", None, None
        rule = (
            s >= params.response_min
            and evidence_of_response
            and not summary_cue(str(sig.get("cite", "")))
        )
        x = pair_features(c, src, s, rule and not quotes_only, quotes_only, params, tgt, len(cands))
        if model is not None and "reply" not in sig:
            # a comment and its parent: no labelled pair has one (the labelled corpora hold
            # posts only), so the rule decides those and the model every link
            s = float(model.probabilities(np.asarray([x], dtype=np.float64))[0])
            if s >= model.threshold:
                relation, why = _relation(c, sig, tr, tgt, src)
            elif rule:
                # the answers to its quotes still make claim links (claim_links.quote_relation)
                quote_relation = _relation(c, sig, tr, tgt, src)[0]
        elif rule:
            relation, why = _relation(c, sig, tr, tgt, src)
            if quotes_only:
                relation, quote_relation = "cites", relation
        evidence: dict[str, Any] = {"signals": sig, "features": [round(v, 4) for v in x]}
        if quote_relation:
            evidence["quote_relation"] = quote_relation
        if why:
            evidence["relation_from"] = why
        if c.anchors:
            evidence["anchor"] = c.anchors[0]
        if c.context_text:
            evidence["context"] = c.context_text[:400]
        if c.quoted:
            evidence["quote"] = c.quoted[:8]
        if c.quote_groups:
            evidence["quote_groups"] = c.quote_groups
        rows.append(
            (
                src.id,
                c.key,
                c.target_id,
                c.target_url,
                relation,
                round(s, 3),
                json.dumps(evidence, ensure_ascii=False),
            )
        )
    return rows


def _forum_post(key: str, url: str | None, source_url: str | None) -> bool:
    """A ForumMagnum post or comment (key ``fm:<id>``), or a page of the source's own site."""
    host = url_host(url)
    return key.startswith("fm:") or (bool(host) and host == url_host(source_url))


def _relation(
    c: Candidate,
    sig: dict[str, Any],
    tr: tuple[str, str] | None,
    tgt: DocView | None,
    src: DocView,
) -> tuple[str, str]:
    """The relation of a response and what decided it; a question post only takes its target up."""
    rel, why = _relation_from_cues(c, sig, tr, tgt, src)
    if (
        rel == "rebuts"
        and why in ("claim stance", "quote answers", "default")
        and (src.title or "").rstrip().endswith("?")
    ):
        # a question post takes its target up; only a cue or a title makes it a rebuttal
        return "extends", f"question post ({why})"
    return rel, why


def _relation_from_cues(
    c: Candidate,
    sig: dict[str, Any],
    tr: tuple[str, str] | None,
    tgt: DocView | None,
    src: DocView,
) -> tuple[str, str]:
    """The relation from the reply's opening stance, a follow-up, the title, a cue in the link's
    context, the answers to quotes, a review, then the matched claims' stance."""
    matches, quote_votes = c.matches, c.quote_votes
    if "reply" in sig:
        votes = {"attacks": 0.0, "supports": 0.0}
        first = [s for s in src.sents if not s.in_quote][:2]
        for s in first:
            rel, strength, _ = sentence_stance(s.text)
            if rel:
                votes[rel] += strength
        if votes["attacks"] == votes["supports"] == 0:
            for m in matches:
                votes[m.relation] += m.score
        if votes["attacks"] == votes["supports"] == 0:
            return "extends", "no stance"
        return ("rebuts" if votes["attacks"] > votes["supports"] else "supports"), "stance"
    if "followup" in sig:
        return "extends", f"follow-up: {sig['followup']}"
    if (
        "title" in sig
        and tr
        and tr[0]
        in (
            "contra",
            "against",
            "rebuttal to",
            "rebutting",
            "critique of",
            "a critique of",
            "why i disagree with",
            "disagreeing with",
        )
    ):
        return "rebuts", f"title: {tr[0]}"
    rel, cue = link_relation(c.context_text)
    if rel:
        return rel, f"cue: {cue}"
    if "title" in sig and tr:
        cue_word = tr[0]
        if cue_word.startswith("in defen") or cue_word == "defending":
            if tgt is not None and title_matches(tr[1], tgt):
                return "supports", f"title: {cue_word}"
            return "rebuts", f"title: {cue_word}"
        return "rebuts", f"title: {cue_word}"
    if quote_votes["attacks"] or quote_votes["supports"]:
        return (
            "supports" if quote_votes["supports"] > quote_votes["attacks"] else "rebuts"
        ), "quote answers"
    if "review" in sig:
        return "supports", f"review: {sig['review']}"
    if tgt is None and ("quotes" in sig or "quoted" in sig):
        return "extends", "quoted, no stance"
    votes = {"attacks": 0.0, "supports": 0.0}
    for m in matches:
        votes[m.relation] += m.score
    if votes["supports"] > votes["attacks"]:
        return "supports", "claim stance"
    return "rebuts", "claim stance" if votes["attacks"] else "default"
