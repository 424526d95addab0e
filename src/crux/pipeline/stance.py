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

__all__ = [
    "asks",
    "cite_cue",
    "encode",
    "followup_cue",
    "is_question",
    "link_relation",
    "meta_text",
    "named_work",
    "normalise",
    "quote_similarity",
    "reference",
    "reporting",
    "reporting_cue",
    "response_cue",
    "review_cue",
    "rhetorical",
    "sentence_stance",
    "summary_cue",
    "title_response",
]

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
    r"a critique of|why i disagree with|disagreeing with)\s+)(?P<rest>.+)$",
    re.I,
)


# The unambiguous cues may follow a few words of a closed list: "A long reply to X", "Brief
# Response to X", "A Proof Against X", "My response to X" (not "Ineffective Response to COVID").
_TITLE_INNER = re.compile(
    r"^\s*(?:(?:a|an|the|my|our|another|brief|short|long|quick|partial|full|detailed|final|belated|"
    r"first|second|proof|case|arguments?|objections?|notes?)\s+){1,3}?"
    r"(?P<contra>reply to|response to|rebuttal (?:to|of)|against|contra|"
    r"critique of)\s+(?P<rest>.+)$",
    re.I,
)


def title_response(title: str | None) -> tuple[str, str] | None:
    """(cue, named thing) when a title announces a response: "Contra Ostrander on X" -> ("contra", ...)."""
    if not title:
        return None
    m = _TITLE.match(title) or _TITLE_INNER.match(title)
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
    r"crossposted|cross-posted|originally posted|linkpost|survey results|the best data|summari[sz]ed by|"
    r"brief review)",
    re.I,
)

_RESP_OPEN = re.compile(
    r"\b(a response to|in response to|responding to|a reply to|this is my (?:reply|response)|"
    r"here is (?:a|my) (?:short )?(?:reply|response)|i want to reply|i (?:want|would like) to respond|"
    r"(?:writing|wrote|write) (?:a|my) (?:reply|response)|critique of|"
    r"i (?:strongly |mostly |partly )?disagree|i (?:strongly |mostly |partly )?agree|sides? with|"
    r"builds? on|add one point|more to say|(?:is|are|was) (?:wrong|mistaken|right)|pushback|push back|"
    r"point[- ]by[- ]point|rebut|contra\b|in defen[cs]e|objections?)",
    re.I,
)
# Reporting what the target says announces a response only together with other evidence
# ("Jessica recently wrote about X" opens many posts that merely start from X).
_RESP_WEAK = re.compile(
    r"\b(wrote up an argument|recently (?:wrote|argued|posted|published|made the case)|argues? that|"
    r"argued that|makes? the case|claims? that)",
    re.I,
)
# A follow-up: the author continues a post of their own, or one that asked for it.
_FOLLOWUP = re.compile(
    r"\b(follow-?up (?:to|on)|following up (?:on|to)|my (?:last|previous|earlier) (?:\w+ )?post|"
    r"in (?:a|my) (?:previous|earlier|last) (?:\w+ )?post|as I (?:explained|argued|wrote|said|noted|discussed|"
    r"mentioned|claimed) (?:previously|before|earlier|last time)|I (?:previously|earlier) (?:claimed|argued|wrote|"
    r"said|posted|proposed|suggested)|an elaboration (?:of|on)|(?:days?|weeks?|months?|years?) ago,? I (?:asked|announced|posted|"
    r"wrote|argued|proposed|promised)|since I (?:posted|wrote)|this (?:post )?is an update on|an update on (?:that|my)|"
    r"began as an? (?:response|reply|comment)|(?:was )?originally (?:going to be|meant as|written as) an? "
    r"(?:comment|reply|response)|(?:criticism|critiques?|comments|objections) (?:of|on|to) my (?:\w+ )?post|"
    r"continuation of my|sequel to|(?:post|thread|piece|essay|sequence|idea) (?:was|is) (?:partly |largely |mostly |"
    r"directly )?inspired by|I (?:recently )?commented (?:recently )?(?:that|on))",
    re.I,
)
_FOLLOWUP_TITLE = re.compile(
    r"\b(retrospective|post-?mortem|revisit\w*|follow-?up|update|redux|results|"
    r"part (?:ii|2|two)|clarif\w*|more on|expanding on)\b",
    re.I,
)

_REBUT = re.compile(
    r"\b(disagree|wrong|mistaken|mistake|flawed|overrated|against|contra\b|rebut|objections?|critical|"
    r"critique|pushed back|push back|not convinced|unconvinced|misleading|doesn't hold|does not hold|"
    r"fails?\b|error)",
    re.I,
)
_SUPPORT = re.compile(
    r"\b(i (?:strongly |mostly |largely |broadly )?agree|sides? with|in defen[cs]e|defen[cs]e of|"
    r"is right|are right|was right|convincing|endorse|second this|in support|supports?\b)",
    re.I,
)
_EXTEND = re.compile(
    r"\b(builds? on|building on|add one point|adds? (?:a|one|another) point|more to say|extends?|"
    r"following up|follow-up to|neither made|a further|complement|different numbers|"
    r"arguing about different)",
    re.I,
)


def cite_cue(text: str) -> str | None:
    """The citation cue in a sentence ("see also", "previous post in this sequence"), or None."""
    m = _CITE.search(text or "")
    return m.group(0) if m else None


# "I'm working on a response to X" announces another post, not this one.
_PLANNED = re.compile(
    r"\b(?:working on|writing|drafting|planning|plan to write|going to write|will write)\s*$", re.I
)


def response_cue(text: str) -> str | None:
    """A phrase that announces a response ("A response to", "I disagree"); not a planned one."""
    for m in _RESP_OPEN.finditer(text or ""):
        if not _PLANNED.search(text[max(0, m.start() - 30) : m.start()]):
            return m.group(0)
    return None


def reporting_cue(text: str) -> str | None:
    """A phrase that reports the target's view ("recently wrote up an argument", "argues that")."""
    m = _RESP_WEAK.search(text or "")
    return m.group(0) if m else None


def followup_cue(
    text: str, title: str | None = None, target_title: str | None = None
) -> str | None:
    """The phrase that makes a document a follow-up ("My last post analyzed", "This is a follow-up to",
    "3 weeks ago I asked"), or its title: the target's title plus "Retrospective", "Update"..."""
    m = _FOLLOWUP.search(text or "")
    if m:
        return m.group(0)
    if title and target_title:
        t, tt = normalise(title), normalise(target_title)
        if len(tt.split()) >= 2 and tt in t and t != tt:
            m = _FOLLOWUP_TITLE.search(t.replace(tt, " "))
            if m:
                return f"title: {m.group(0)}"
    return None


# A review of a work (a book, a paper): a response whose side its stance decides.
_REVIEW = re.compile(
    r"\b(?:in this (?:post|essay),? I review|I(?:'m| am) (?:going to )?review(?:ing)?|"
    r"this (?:post|essay) (?:is|is a) (?:my )?review of|reading companion)\b",
    re.I,
)
_REVIEW_TITLE = re.compile(
    r"^\s*(?:\[?(?:book|article|paper) review\]?:?|review:|(?:a )?review of)\s+\S", re.I
)


def review_cue(text: str, title: str | None = None) -> str | None:
    """The phrase that makes a document a review of a work it links in its opening."""
    if title:
        m = _REVIEW_TITLE.match(title)
        if m:
            return f"title: {m.group(0).strip()}"
    m = _REVIEW.search(text or "")
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
    r"that's right|this is right|true,|nice job|well put|very nice|i do agree)",
    re.I,
)
_DISAGREE = re.compile(
    r"\b(i (?:strongly )?disagree|i don'?t think (?:that'?s|this is|it'?s) right|i don'?t think|"
    r"i do not think|i'?m not sure|not convinced|that is wrong|this is wrong|is wrong|looks wrong|"
    r"(?:is|are) mistaken|overstates|understates|not a flaw|not because|rather than|"
    r"not enough to|no evidence|tells? us little|does not by itself|do(?:es)? not (?:show|follow|"
    r"mean|destroy|deliver|need)|would not|only because|only ever|in practice|no longer think|"
    r"fails? for|holds? for .{0,60} and fails|is not a probability|not a probability|"
    r"too (?:slow|fast|few)|mixes|the problem with|the whole problem|aimed at the wrong|"
    r"that is the point|on the contrary|nobody has shown|beside the point|misses the point|"
    r"not the (?:issue|point|question)|absurd\w*|nonsense|not how (?:this|it|any of this) works|"
    r"makes no sense|(?:does not|doesn'?t) make sense|(?:is|seems|looks) (?:\w+ ){0,3}suspicious|deeply confused|"
    r"far from (?:sufficient|fully|clear|established|enough)|premature|i don'?t see how)",
    re.I,
)
_CONCESSION = re.compile(
    r"^(?:(?:fair point|granted|admittedly|sure|true|yes|ok(?:ay)?|while|although|though|even if|"
    r"i agree .{0,80}?|[\w' ]{1,40} (?:is|was|are) right (?:that|about))[^.;:]{0,200}?[,;:]\s*"
    r"(?:but|yet|however|still)\b|^(?:fair point|granted)\b.*\bbut\b|^while\b.{5,200},)",
    re.I,
)
_ADVERSATIVE = re.compile(r"\b(but|however|yet|still|although|though|nevertheless|whereas)\b", re.I)
_NEG = re.compile(r"\b(not|no|never|n't|nobody|none|neither|nor|cannot|without)\b|n't\b", re.I)


_RHETORICAL = re.compile(
    r"^(?:(?:but|and|so|then|yet)\s+)?(?:isn'?t|aren'?t|wasn'?t|weren'?t|doesn'?t|don'?t|didn'?t|can'?t|"
    r"couldn'?t|won'?t|wouldn'?t|shouldn'?t|haven'?t|hasn'?t|is it not|how (?:on earth|could anyone|can anyone)|"
    r"who (?:would|could) (?:seriously|possibly|really)|why on earth|what else)\b|\breally\?\W*$",
    re.I,
)


def is_question(text: str) -> bool:
    """True for a sentence that asks ("Is that true?", "What is his objection?")."""
    t = (text or "").strip().rstrip("\"'\u201d\u2019)]*").rstrip()
    return t.endswith("?")


def rhetorical(text: str) -> bool:
    """A question that asserts ("Isn't that the whole point?", "Doesn't this prove too much?")."""
    return is_question(text) and bool(_RHETORICAL.search((text or "").strip()))


def concession(text: str) -> bool:
    """True for "Fair point about X, but Y" / "While X is right that ..., Z is not"."""
    t = (text or "").strip()
    return bool(_CONCESSION.search(t)) or bool(
        re.search(r"\b(?:is|are|was) right (?:that|about)\b.{0,200}\bbut\b", t, re.I)
    )


def sentence_stance(text: str, target: str | None = None) -> tuple[str | None, float, list[str]]:
    """(attacks | supports | None, strength in [0, 1], cues) of a sentence answering ``target``."""
    cues: list[str] = []
    t = text or ""
    if is_question(t) and not rhetorical(t):
        return None, 0.0, ["question"]  # asking is not attacking
    if concession(t):
        return "attacks", 0.85, ["concession"]
    d = _DISAGREE.search(t)
    a = _AGREE.search(t)
    if d and not a:
        return "attacks", 0.8, [d.group(0)]
    if rhetorical(t) and not a:
        return "attacks", 0.55, ["rhetorical question"]
    if a and not d:
        # "I agree that ..., but ..." is a concession; plain agreement supports.
        if _ADVERSATIVE.search(t[a.end() :]):
            return "attacks", 0.6, [a.group(0), "adversative"]
        return "supports", 0.8, [a.group(0)]
    if a and d:
        if a.start() < d.start() and not _ADVERSATIVE.search(t[a.end() :]):
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


# ---- what a sentence is: a report of the target's view, meta text, a reference ---------------

_REPORTING = re.compile(
    r"^(?:[A-Z][\w'\u2019.-]+(?:\s+[A-Z][\w'\u2019.-]+){0,2}|[Hh]e|[Ss]he|[Tt]hey|[Tt]he (?:paper|post|authors?))"
    r"\s+(?:recently\s+|also\s+)?(?:argues?|argued|writes?|wrote(?: up)?|claims?|claimed|concludes?|concluded|"
    r"says?|said|proposes?|thinks?|believes?|suggests?|notes?|points? out)\b"
)
_OWN_VOICE = re.compile(r"\b(?:I|I'm|I've|we|my|but|however|wrong|right)\b")
_META = re.compile(
    r"^(?:an? (?:response|reply) to|in (?:this|my) post|this post|thanks to|thank you|crossposted|cross-posted|"
    r"epistemic status|update:|edit:|previously:|tl;dr)",
    re.I,
)
_REFERENCE = re.compile(r"\bet al\.|\bdoi\b|https?://|\(\d{4}\)|^[A-Z][\w-]+, [A-Z]\.")
_NAMED = re.compile(
    r"\b(?:paper|post|essay|article|report|book|blog ?post|piece)\s+(?:called|titled|"
    r"named|entitled)\s+[\"\u201c']([^\"\u201d']{4,120})[\"\u201d']",
    re.I,
)
_SUMMARY = re.compile(r"summari[sz]ed by", re.I)


def reporting(text: str) -> bool:
    """True for a sentence that only reports the target's view ("Orrin writes that ...")."""
    t = (text or "").strip()
    if not _REPORTING.match(t):
        return False
    rest = t.split(" ", 2)[-1]
    return not _OWN_VOICE.search(rest)


def meta_text(text: str) -> bool:
    """Text about the post rather than its argument ("Thanks to ...", "Epistemic status: ...")."""
    return bool(_META.match((text or "").strip()))


def reference(text: str) -> bool:
    """A bibliography entry or a bare citation ("Smith, J. (2019) ...", a DOI, a URL)."""
    return bool(_REFERENCE.search(text or ""))


def named_work(text: str) -> str | None:
    """The title of a work a sentence names without linking it ("the paper called “X”")."""
    m = _NAMED.search(text or "")
    return m.group(1) if m else None


def summary_cue(text: str) -> bool:
    """A newsletter's summary of a post ("summarized by ..."): not a response to it."""
    return bool(_SUMMARY.search(text or ""))


def asks(text: str) -> bool:
    """A question that is only a question (rhetorical ones argue)."""
    return is_question(text) and not rhetorical(text)


# ---- embeddings -----------------------------------------------------------------------------

_MODEL: list[Any] = []


def encode(texts: Sequence[str]) -> Any:
    """Unit-normalised embeddings (numpy array, one row per text)."""
    import numpy as np

    from . import embed

    if not texts:
        return embed.empty()
    v = np.asarray(embed.encode(list(texts)), dtype="float32")
    n = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.maximum(n, 1e-9)
