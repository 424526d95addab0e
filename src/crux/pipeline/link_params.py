"""Every threshold and weight of the linking stages, in one frozen object per stage.

:class:`PairParams` holds the sentence-pair matcher's numbers (:mod:`crux.pipeline.sentence_pairs`),
which both stages use; :class:`ResponseParams` adds the responses stage's signal weights and
cut-offs; :class:`ClaimLinkParams` is the claim_links stage's. A stage's ``version`` carries
:func:`digest` of its parameters, of the quote-grouping numbers (:data:`crux.pipeline.quotes.QUOTES`)
and of the cue phrases in :mod:`crux.pipeline.stance`, so changing any of them redoes the stage
and an unchanged re-run does no work.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ClaimLinkParams", "PairParams", "ResponseParams", "cues_digest", "digest"]


@dataclass(frozen=True)
class PairParams:
    """Which sentence of a responder answers which of its target (cosines of unit MiniLM vectors)."""

    paraphrase_min: float = 0.62  # a paraphrase link without a stance cue
    unflagged_cued_min: float = 0.45  # a target sentence not flagged as a claim, with a stance cue
    strict_min: float = 0.70  # a reply and what its target answers (claim_links.links_for)
    near_min: float = 0.52  # the same, when the two sentences are each other's best match
    cued_min: float = 0.48  # with an agreement/disagreement/concession cue
    reply_min: float = 0.35  # comment -> parent, with a cue
    quote_min: float = 0.75  # quote_similarity for a quote to match a target sentence
    figures_min: float = 0.45  # both sentences give figures (a repricing answers a price)
    answer_min: float = 0.45  # an uncued sentence right after a quote, as its answer
    answer_span: int = 10  # a claim this many sentences after a quote answers it
    quote_near_min: float = 0.55  # a claim anywhere in the post, to the quoted passage this close
    strong_cue: float = 0.55  # a stance cue this strong decides on its own
    bare_words: int = 12  # a stance sentence this short ("I disagree.") leads an answer
    near_rank: int = 2  # a paraphrase may be the target claim's 2nd or 3rd best source sentence
    target_claim_bonus: float = 0.03  # a target sentence the claims stage flagged is preferred
    answers_scored: int = 3  # the claim-pair model judges the first sentences after a quote
    cued_answers: int = 4  # cued answers are looked for among the first sentences after a quote
    min_claim_chars: int = 25  # shorter sentences are never a claim to link


@dataclass(frozen=True)
class ClaimLinkParams:
    pairs: PairParams = field(default_factory=PairParams)
    argued_quotes: int = (
        2  # quotes answered right after, for a document's unclaimed quotes to count
    )
    # the document-level relation a sentence's stance falls back on
    prior: tuple[tuple[str, str], ...] = (
        ("rebuts", "attacks"),
        ("supports", "supports"),
        ("extends", "supports"),
    )


@dataclass(frozen=True)
class ResponseParams:
    pairs: PairParams = field(default_factory=PairParams)
    response_min: float = 0.5  # the score a response needs (and one signal of answering)
    opening_sents: int = 8  # a quote starting this early is what the post starts from
    # Each signal's weight in the score (responses module docstring): a sum, clipped to [0, 1].
    weights: tuple[tuple[str, float], ...] = (
        ("named", 0.25),
        ("reply", 0.6),
        ("title", 0.6),
        ("followup", 0.5),
        ("opening", 0.25),
        ("cue", 0.3),
        ("review", 0.3),
        ("reported", 0.15),
        ("stance", 0.15),
        ("quotes", 0.5),
        ("quoted", 0.1),
        ("mentions", 0.05),
        ("claims", 0.2),
        ("cite", -0.6),
        ("list", -0.3),
        ("crowded", -0.25),
    )
    opening_cue_bonus: float = 0.1  # a response cue in the opening paragraph
    crowded_links: int = 3  # a sentence linking this many documents only cites them
    # Signals that say the document answers the target; without one (or two claim pairs) a link
    # is a citation whatever its score ("Jessica recently wrote about X" in an opening).
    evidence: tuple[str, ...] = (
        "reply",
        "title",
        "followup",
        "cue",
        "quotes",
        "stance",
        "named",
        "review",
    )
    claim_pairs_evidence: int = 2  # this many claim pairs are evidence too
    # The kind of page an outside target is: features of the learned decision (response_model).
    forum_hosts: tuple[str, ...] = (
        "lesswrong.com", "lesserwrong.com", "greaterwrong.com", "alignmentforum.org",
        "forum.effectivealtruism.org", "effective-altruism.com", "agentfoundations.org",
    )  # fmt: skip
    paper_hosts: tuple[str, ...] = (
        "arxiv.org", "doi.org", "ncbi.nlm.nih.gov", "biorxiv.org", "medrxiv.org", "ssrn.com",
        "jstor.org", "nature.com", "science.org", "sciencemag.org", "sciencedirect.com",
        "springer.com", "wiley.com", "thelancet.com", "nejm.org", "plos.org", "pnas.org",
        "openreview.net", "papers.nips.cc", "proceedings.mlr.press", "aclweb.org",
        "semanticscholar.org", "researchgate.net", "philpapers.org", "distill.pub",
    )  # fmt: skip
    reference_hosts: tuple[str, ...] = (
        "wikipedia.org", "wiktionary.org", "britannica.com", "plato.stanford.edu",
        "merriam-webster.com", "wikiquote.org", "github.com", "google.com", "amazon.com",
        "goodreads.com", "worldometers.info", "ourworldindata.org", "cdc.gov", "who.int",
    )  # fmt: skip
    social_hosts: tuple[str, ...] = (
        "twitter.com", "x.com", "facebook.com", "reddit.com", "youtube.com", "youtu.be",
        "instagram.com", "tiktok.com", "news.ycombinator.com",
    )  # fmt: skip

    def weight(self, signal: str) -> float:
        return dict(self.weights)[signal]


def cues_digest() -> str:
    """A digest of the cue phrases (every regular expression in :mod:`crux.pipeline.stance`)."""
    from . import stance

    patterns = sorted(
        f"{name}={v.pattern}/{v.flags}"
        for name, v in vars(stance).items()
        if isinstance(v, re.Pattern)
    )
    return hashlib.sha256("\n".join(patterns).encode()).hexdigest()[:8]


def _plain(obj: Any) -> Any:
    return dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else obj  # type: ignore[arg-type]


def digest(params: Any) -> str:
    """A short digest of a stage's parameters, the quote-grouping numbers and the cue phrases."""
    from .quotes import QUOTES

    body = json.dumps(
        {"params": _plain(params), "quotes": _plain(QUOTES), "cues": cues_digest()},
        sort_keys=True,
    )
    return hashlib.sha256(body.encode()).hexdigest()[:10]
