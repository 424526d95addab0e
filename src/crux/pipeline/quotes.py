"""Quoted passages in a document: where they are, what answers them, and which link they come from.

Shared by the ``responses`` and ``claim_links`` stages. A *quote group* is a run of quoted
sentences (block quotes, and paragraph sentences the segmenter marked ``in_quote``) with the
author's sentences after it, up to the next quote or heading. :func:`attribute_quotes` says
which hyperlink each group quotes: the link that introduces it ("Alyssa Vance from <link>
argues:", "Time to look at <the pdf>. Here's the money quote:"), a link named again just before
it ("Crucially, Bostrom et al. note:" after a link to "the paper by Nick Bostrom"), or, for a
quote with no introduction of its own, the source of the quote before it.
:func:`inline_quotes` finds quotations inside the author's own sentences ("They call it
“one of the most promising and neglected ideas”").

Everything here is a pure function of a document's sentences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .stance import normalise

if TYPE_CHECKING:
    from .docview import DocView, Sent

__all__ = [
    "QUOTES",
    "LinkSite",
    "QuoteParams",
    "QuoteGroup",
    "attribute_quotes",
    "inline_quotes",
    "quote_blocks",
    "quote_groups",
]


@dataclass(frozen=True)
class QuoteParams:
    answer_max: int = 5  # sentences after a quote that count as its answer
    lead_in: int = 2  # sentences before a quote that may introduce it


QUOTES = QuoteParams()  # part of the linking stages' parameter digest (link_params.digest)
_SKIP = frozenset(("heading", "caption", "table_cell", "code", "math"))
_GENERIC_ANCHOR = re.compile(
    r"^(?:here|this|this one|link|source|post|article|paper|comment|pdf|\[?\d+\]?|"
    r"https?://\S+|www\.\S+|\S+\.(?:com|org|net|io)\S*)$",
    re.I,
)
_NAME = re.compile(r"\b[A-Z][a-z][\w'\u2019-]{1,}\b")
_NOT_NAMES = frozenset(
    """the this that these those there here then than what when where which who why how
it its it's i i'm i've we our you your he she they his her their a an and but or so if in on at of for to
from by with as is are was were be been my me one two some many most much more less all any each every
no not yes also still just only even however because since while although though after before first
second third finally crucially indeed thus hence note see let let's consider quoting quote""".split()
)
_STOP = _NOT_NAMES | frozenset(
    """about into over under out up down off again further once can could should would
will may might must do does did done have has had having say says said writes wrote argues argued""".split()
)
_NEW_SOURCE = re.compile(
    r"\b(?:a|an|one|another)\b[^.:]{0,50}\b(?:post|paper|article|book|essay|comment|tweet|"
    r"thread|blog|study|report|letter|speech|interview)\b",
    re.I,
)
_INLINE = re.compile(r"[\u201c\"]([^\u201c\u201d\"]{20,400})[\u201d\"]")


@dataclass
class QuoteGroup:
    start: int  # index of the first quoted sentence in ``doc.sents``
    quoted: list[Sent]
    answer: list[Sent] = field(default_factory=list)


@dataclass
class LinkSite:
    """A hyperlink of the document and the sentence it sits in."""

    key: str
    index: int  # sentence index in ``doc.sents``
    anchor: str
    url: str = ""


def quote_blocks(doc: DocView) -> list[QuoteGroup]:
    """Each run of quoted sentences with the author's sentences after it (at most ``QUOTES.answer_max``)."""
    groups: list[QuoteGroup] = []
    cur: QuoteGroup | None = None
    for i, s in enumerate(doc.sents):
        if s.in_quote:
            if cur is None or cur.answer:
                cur = QuoteGroup(i, [])
                groups.append(cur)
            cur.quoted.append(s)
        elif s.kind == "heading":
            cur = None
        elif cur is not None and len(cur.answer) < QUOTES.answer_max:
            cur.answer.append(s)
    return groups


def quote_groups(doc: DocView) -> list[tuple[list[Sent], list[Sent]]]:
    """(quoted sentences, the answer after them) for each quote of a document."""
    return [(g.quoted, g.answer) for g in quote_blocks(doc)]


def inline_quotes(text: str) -> list[str]:
    """Quotations of at least six words inside a sentence of the author's own (shorter ones are
    mostly terms: "the hard problem of consciousness")."""
    return [
        m.group(1).strip(" ,.")
        for m in _INLINE.finditer(text or "")
        if len(m.group(1).split()) >= 6
    ]


def _names(texts: list[str]) -> set[str]:
    return {w.lower() for t in texts for w in _NAME.findall(t) if w.lower() not in _NOT_NAMES}


def _words(text: str) -> set[str]:
    return {w for w in normalise(text).split() if len(w) > 2 and w not in _STOP}


def _descriptive(anchor: str) -> bool:
    a = (anchor or "").strip()
    return bool(a) and not _GENERIC_ANCHOR.match(a) and len(a.split()) >= 1 and len(a) > 3


def _lead_in(doc: DocView, start: int) -> list[int]:
    """Indices of the (at most ``QUOTES.lead_in``) author's sentences before a quote, nearest first."""
    out: list[int] = []
    i = start - 1
    while i >= 0 and len(out) < QUOTES.lead_in:
        s = doc.sents[i]
        if s.in_quote and out:
            break
        if not s.in_quote and s.kind not in _SKIP:
            out.append(i)
        i -= 1
    return out


def _owner(doc: DocView, g: QuoteGroup, sites: list[LinkSite]) -> str | None:
    # a link inside the quote's own first sentence, when that sentence is the author's
    # ("A post containing answers says: "...""): the quote is from it
    first = g.quoted[0]
    if first.kind != "blockquote":
        inside = [x for x in sites if x.index == g.start]
        if inside:
            return inside[0].key
    lead = _lead_in(doc, g.start)
    if not lead:
        return None
    near = [x for x in sites if x.index == lead[0]]
    if near:
        best = [x for x in near if _descriptive(x.anchor)] or near
        return best[-1].key
    if _NEW_SOURCE.search(doc.sents[lead[0]].text):
        return None  # "This first paragraph of a recent SlateStarCodex post:" introduces an unlinked source
    earlier = [x for x in sites if x.index < g.start and not doc.sents[x.index].in_quote]
    texts = [doc.sents[i].text for i in lead]
    names = _names(texts)
    if names:
        named = [x for x in earlier if names & _names([x.anchor])]
        if named:
            return named[-1].key
    words = set().union(*(_words(t) for t in texts))
    shared = [x for x in earlier if len(words & _words(x.anchor)) >= 2]
    if shared:
        return shared[-1].key
    window = [x for x in sites if x.index in lead[1:]]
    if window:
        best = [x for x in window if _descriptive(x.anchor)] or window
        return best[-1].key
    return None


def attribute_quotes(doc: DocView, sites: list[LinkSite]) -> dict[int, tuple[str, bool]]:
    """``{group index: (link key, inherited)}`` for the quote groups of :func:`quote_blocks`.

    A group no link introduces inherits the source of the group before it (a post quoting one
    paper several times names it once); ``inherited`` says so.
    """
    out: dict[int, tuple[str, bool]] = {}
    last: str | None = None
    for k, g in enumerate(quote_blocks(doc)):
        key = _owner(doc, g, sites)
        if key is not None:
            out[k] = (key, False)
            last = key
        elif last is not None:
            out[k] = (last, True)
    return out
