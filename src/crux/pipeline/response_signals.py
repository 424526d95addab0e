"""The responses stage's features: what says that a document answers each document it points at.

:func:`candidate_signals` collects, for each candidate target of one document (its links, its
parent, a title-named author's posts; :mod:`crux.pipeline.link_candidates`), the signals the
decision (:mod:`crux.pipeline.response_decision`) weighs:

- ``reply``: a comment answers its parent;
- ``title``: the title announces a response to the target ("Contra X", "Reply to X",
  "Re: <title>", "In defense of <title>", "Against X"), or names it (its title, or the link's
  text in quotation marks);
- ``opening``: the link sits in the opening paragraph; ``cue``: its paragraph announces a
  response ("A response to @x's post", "I disagree"); ``reported``: it only reports the target
  ("X recently wrote up an argument", "argues that"); ``stance``: agreement or disagreement words
  around an opening link; ``review``: the opening reviews a work;
- ``followup``: the author continues a post ("My last post analyzed…", "This is a follow-up to",
  "3 weeks ago I asked", "This post began as a response to", a title that is the target's title
  plus "Retrospective" or "Update");
- ``quotes``: quotations of the target: block quotes that match its sentences, quotations inside
  the author's sentences that do, and, for a target outside the corpus, the block quotes its link
  introduces (:func:`crux.pipeline.quotes.attribute_quotes`) when they are argued with or open
  the post (``quoted``, weak, otherwise); ``named``: an outside work named, not linked, in the
  opening and quoted below it;
- ``mentions``: the target's author is named outside the link;
- ``claims``: sentence pairs with the target's claims (:class:`crux.pipeline.sentence_pairs.SentencePairs`);
- against: ``cite``: a citation cue in the link's sentence ("see also", "Previous post in this
  sequence", "summarized by"), ``list``: a link in a list, ``crowded``: a sentence that links
  three or more documents.

Cue phrases live in :mod:`crux.pipeline.stance`; numbers in
:class:`crux.pipeline.link_params.ResponseParams`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .docview import DocView, Sent
from .link_params import ResponseParams
from .quotes import LinkSite, QuoteGroup, attribute_quotes, inline_quotes, quote_blocks
from .sentence_pairs import Match, SentencePairs
from .stance import (
    cite_cue,
    followup_cue,
    link_relation,
    named_work,
    normalise,
    quote_similarity,
    reporting_cue,
    response_cue,
    review_cue,
    sentence_stance,
    title_response,
)

__all__ = ["Candidate", "candidate_signals", "title_matches"]


@dataclass
class Candidate:
    """One document a source points at, with the signals that say how."""

    key: str  # the target's id, or its URL key when it is outside the corpus
    target_id: str | None
    target_url: str | None
    signals: dict[str, Any] = field(default_factory=dict)
    anchors: list[str] = field(default_factory=list)  # the links' texts
    context: list[tuple[int, Sent]] = field(default_factory=list)  # the sentences holding them
    context_text: str = ""  # those sentences (and the opening's next ones), anchors removed
    matches: list[Match] = field(default_factory=list)  # sentence pairs with the target
    quoted: list[str] = field(default_factory=list)  # the target's quoted passages
    quote_votes: dict[str, float] = field(default_factory=dict)  # stance of the quotes' answers
    quote_groups: list[str] = field(default_factory=list)  # the quotes it owns (first ids)


_STOP = frozenset("a an and the of on in to for with between about is are vs versus".split())


def _surname(name: str | None) -> str | None:
    if not name:
        return None
    parts = [p for p in re.split(r"[\s_@.]+", name) if p]
    return parts[-1].lower() if parts else None


def _link_sentence(doc: DocView, anchor: str, after: int) -> tuple[int, Any] | None:
    """(index, sentence) of the sentence that holds a link: the first at or after ``after`` (the
    previous link's sentence; links come in document order) whose text contains the anchor text
    as whole words, else the first anywhere."""
    a = normalise(anchor)
    if not a:
        return None
    rx = re.compile(rf"(?:^| ){re.escape(a)}(?: |$)")
    order = list(range(after, len(doc.sents))) + list(range(0, min(after, len(doc.sents))))
    for i in order:
        if rx.search(normalise(doc.sents[i].text)):
            return i, doc.sents[i]
    for i in order:
        if a in normalise(doc.sents[i].text):
            return i, doc.sents[i]
    return None


def title_matches(rest: str, tgt: DocView | None) -> bool:
    if tgt is None:
        return False
    r = normalise(rest)
    sur = _surname(tgt.author)
    if sur and len(sur) > 2 and re.search(rf"\b{re.escape(sur)}\b", r):
        return True
    tt = normalise(tgt.title or "")
    if not tt:
        return False
    if tt in r or r in tt:
        return True
    a, b = set(r.split()), set(tt.split())
    return len(a & b) >= max(2, 0.6 * min(len(a), len(b)))


def candidate_signals(
    doc_id: str,
    views: dict[str, DocView],
    links: list[tuple],
    by_author: dict[str, list[str]],
    matcher: SentencePairs,
    params: ResponseParams,
) -> tuple[list[Candidate], tuple[str, str] | None]:
    """The candidates of one document with their signals, and its title's response cue."""
    src = views[doc_id]
    cands: dict[str, dict[str, Any]] = {}
    own_key = src.url_key

    def cand(key: str, tid: str | None, url: str | None) -> dict[str, Any]:
        c = cands.setdefault(
            key, {"target_id": tid, "target_url": url, "signals": {}, "anchors": [], "context": []}
        )
        if tid and not c["target_id"]:
            c["target_id"] = tid
        return c

    n_sent: dict[str, int] = {}
    at = 0
    sites: list[LinkSite] = []
    for _pos, url, key, tid, anchor in links:
        if not key or key == own_key or tid == doc_id:
            continue
        k = tid or key
        c = cand(k, tid, url)
        c["anchors"].append(anchor or "")
        hit = _link_sentence(src, anchor or "", at)
        if hit:
            i, s = hit
            at = i
            c["context"].append((i, s))
            n_sent[s.id] = n_sent.get(s.id, 0) + 1
            sites.append(LinkSite(k, i, anchor or "", url or ""))
    if src.kind == "comment" and src.parent_id and src.parent_id in views:
        p = views[src.parent_id]
        cand(p.id, p.id, p.url)["signals"]["reply"] = True
    tr = title_response(src.title)
    title_target = None
    if tr:
        # The title names one target: a linked document it matches (first link wins), else the
        # named author's latest earlier post.
        linked = [
            k
            for k, c in cands.items()
            if c["target_id"] in views and title_matches(tr[1], views[c["target_id"]])
        ]
        if linked:
            title_target = linked[0]
        else:
            for tid in by_author.get(doc_id, []):
                if tid in views and title_matches(tr[1], views[tid]):
                    cand(tid, tid, views[tid].url)
                    title_target = tid
                    break
        if title_target is None:
            # an outside work the title names: its link's URL, anchor or sentence names it
            # ("A long reply to Ben Garfinkel on ..." -> .../ben-garfinkel-classic-ai-risk-arguments)
            named = [(_names_link(tr[1], c), k) for k, c in cands.items() if c["target_id"] is None]
            strength, key = max(
                named, key=lambda x: x[0], default=(0.0, None)
            )  # first link wins a tie
            if strength > 0:
                title_target = key
    groups = quote_blocks(src)
    owners = attribute_quotes(src, sites)
    first_blocks = sorted({s.block for s in src.sents if s.kind != "heading"})[:2]
    if len(owners) < len(groups):
        # Quotes no link introduces belong to the one outside work the opening announces an answer
        # to ("A response to <X>", "<X> ... I think it is mistaken"), or the title names.
        mains = {
            k
            for k, c in cands.items()
            if c["target_id"] is None
            and (
                _announced(src, c["context"], first_blocks)
                or k == title_target
                or (
                    tr is not None
                    and title_target is None
                    and any(_title_matches_text(tr[1], a) for a in c["anchors"])
                )
            )
        }
        if len(mains) == 1:
            main = mains.pop()
            for gi in range(len(groups)):
                owners.setdefault(gi, (main, True))
    by_owner: dict[str, list[tuple[QuoteGroup, bool]]] = {}
    for gi, (key, inherited) in owners.items():
        by_owner.setdefault(key, []).append((groups[gi], inherited))
    # The post opens by quoting a linked source: under a response title, that source is what it answers.
    opening_owner = next(
        (
            owners[gi][0]
            for gi, g in enumerate(groups)
            if gi in owners and not owners[gi][1] and g.start < params.opening_sents
        ),
        None,
    )
    quote_texts = [s.text for s in src.sents if s.in_quote]
    if quote_texts and not any(c["target_id"] is None and c["context"] for c in cands.values()):
        # An outside work named, not linked, in the opening and quoted below it.
        for s in src.sents[:4]:
            work = named_work(s.text)
            if work:
                c = cand("named:" + normalise(work), None, None)
                c["context"].append((src.sents.index(s), s))
                c["anchors"].append(work)
                c["signals"]["named"] = work
                break
    review = review_cue(
        " ".join([s.text for s in src.sents if not s.in_quote and s.kind != "heading"][:6]),
        src.title,
    )
    out: list[Candidate] = []
    for key, c in cands.items():
        sig: dict[str, Any] = c["signals"]
        tgt = views.get(c["target_id"]) if c["target_id"] else None
        if tr and (
            key == title_target
            or (
                tgt is None
                and title_target is None
                and (
                    any(_title_matches_text(tr[1], a) for a in c["anchors"]) or key == opening_owner
                )
            )
        ):
            sig["title"] = tr[0]
        ctx_text = []
        own_text: list[str] = []  # the link sentences, and the ones either side
        opening = False
        for i, s in c["context"]:
            if s.kind == "blockquote":
                continue
            text = s.text
            own_text += [
                *(
                    x.text
                    for x in src.sents[max(0, i - 1) : i]
                    if x.kind != "blockquote" and x.block == s.block
                ),
                s.text,
                *(x.text for x in src.sents[i + 1 : i + 2] if not x.in_quote),
            ]
            if s.block in first_blocks or i < 3:
                opening = True
                nxt = [
                    x.text
                    for x in src.sents[i + 1 : i + 3]
                    if x.block == s.block and not x.in_quote
                ]
                text = " ".join([text, *nxt])
            for a in c["anchors"]:
                if a and len(a) < len(s.text):
                    text = re.sub(re.escape(a), " ", text, flags=re.I)
            ctx_text.append(text)
            cc = cite_cue(s.text)
            if cc:
                sig["cite"] = cc
            if s.kind == "list_item":
                sig["list"] = True
            if n_sent.get(s.id, 0) >= params.crowded_links:
                sig["crowded"] = True
        if opening:
            sig["opening"] = True
            if review and "cite" not in sig:
                sig["review"] = review
        context = " ".join(ctx_text)
        rc = response_cue(context)
        if rc:
            sig["cue"] = rc
        else:
            wc = reporting_cue(context)
            if wc:
                sig["reported"] = wc
        if "title" not in sig and _names_in_title(src.title, tgt, c["anchors"]):
            sig["title"] = "names it"
        named_title = (
            tgt.title
            if tgt is not None
            else (c["anchors"][0] if sig.get("title") == "names it" else None)
        )
        fc = followup_cue(" ".join(own_text), src.title, named_title)
        if fc:
            sig["followup"] = fc
            if str(sig.get("cite", "")).lower() == "previously" and "previously" in fc.lower():
                del sig["cite"]  # "As I explained previously" is the follow-up, not a series link
        if opening and "cue" not in sig and link_relation(context)[0] in ("rebuts", "supports"):
            sig["stance"] = link_relation(context)[1]
        if tgt is not None:
            sur = _surname(tgt.author)
            if sur and len(sur) > 2:
                own_words = " ".join(s.text for s in src.sents if not s.in_quote).lower()
                n = len(re.findall(rf"\b{re.escape(sur)}\b", own_words))
                if n:
                    sig["mentions"] = n
        quoted: list[str] = []
        matches = []
        votes = {"attacks": 0.0, "supports": 0.0}
        owned = by_owner.get(key, [])
        if "named" in sig and not owned:
            owned = [(g, True) for g in groups]
        if tgt is not None:
            inline = _inline_matches(src, tgt, params.pairs.quote_min)
            strong = inline > 0 or any(
                k in sig for k in ("reply", "title", "opening", "cue", "followup")
            )
            if strong or quote_texts:
                matches = matcher.match(
                    src, tgt, reply="reply" in sig, embeddings=strong, loose=False
                )
                quoted = [m.target_text for m in matches if m.method == "quote-reply"]
            if quoted or inline:
                sig["quotes"] = len(quoted) + inline
            if matches:
                sig["claims"] = len(matches)
        elif owned:
            weak = {"attacks": 0.0, "supports": 0.0}
            for g, _inherited in owned:
                qtext = " ".join(q.text for q in g.quoted)
                for a in g.answer:
                    rel, strength, _ = sentence_stance(a.text, qtext)
                    if rel:
                        (votes if strength >= params.pairs.strong_cue else weak)[rel] += strength
            strong_votes = bool(votes["attacks"] or votes["supports"])
            if not strong_votes:
                votes = weak  # hedged answers (negation, "but") still lean one way
            quoted = [q.text for g, _ in owned for q in g.quoted]
            if strong_votes or any(not inh and g.start < params.opening_sents for g, inh in owned):
                sig["quotes"] = len(quoted)
            else:
                sig["quoted"] = len(quoted)
        out.append(
            Candidate(
                key,
                c["target_id"],
                c["target_url"],
                sig,
                c["anchors"],
                c["context"],
                context,
                matches,
                quoted,
                votes,
                [g.quoted[0].id for g, _ in owned],
            )
        )
    return out, tr


def _announced(src: DocView, context: list[tuple[int, Any]], first_blocks: list[int]) -> bool:
    """A link in the opening whose paragraph announces an answer to it."""
    for i, s in context:
        if s.kind != "blockquote" and (s.block in first_blocks or i < 3):
            text = " ".join(
                [s.text, *(x.text for x in src.sents[i + 1 : i + 3] if x.block == s.block)]
            )
            if response_cue(text):
                return True
    return False


def _inline_matches(src: DocView, tgt: DocView, quote_min: float) -> int:
    """How many quotations inside the author's own sentences are sentences of ``tgt``."""
    n = 0
    tsents = [t.text for t in tgt.sents if not t.in_quote]
    for s in src.sents:
        if s.kind == "blockquote":
            continue
        for q in inline_quotes(s.text):
            if any(quote_similarity(q, t) >= quote_min for t in tsents):
                n += 1
    return n


def _names_in_title(title: str | None, tgt: DocView | None, anchors: list[str]) -> bool:
    """The source's title names the target: it contains the target's title, or the link's anchor
    text in quotation marks ('Clarifying “What failure looks like”'); three words or more."""
    t = normalise(title or "")
    if not t:
        return False
    names = [
        normalise(q)
        for q in re.findall(r"[\u201c\"]([^\u201c\u201d\"]+)[\u201d\"]", title or "")
        if any(normalise(q) == normalise(a) for a in anchors)
    ]
    if tgt is not None:
        names.append(normalise(tgt.title or ""))
    return any(len(n.split()) >= 3 and n in t and n != t for n in names)


def _names_link(rest: str, c: dict[str, Any]) -> int:
    """How strongly a title's named part ("Ben Garfinkel" of "Ben Garfinkel on X", or the whole
    rest) is named by a link: its URL's words (a handle "suspendedreason" counts as two words),
    its anchor text, or the sentence holding it. 0 unless every word of the name is there, and
    the name has two words or more ("In Defense of Politics" names no one work)."""
    name_part = re.split(r"\s+on\s+", rest, maxsplit=1)[0]
    words = [w for w in normalise(name_part).split() if w not in _STOP]
    if len(words) < 2:
        return 0
    url = (c.get("target_url") or "").lower()
    url_words = set(re.findall(r"[a-z0-9]+", url.split("://", 1)[-1]))
    text = set(
        normalise(
            " ".join([*c["anchors"], *(s.text for _, s in c["context"] if s.kind != "blockquote")])
        ).split()
    )
    have = url_words | text
    joined = {a + b for a, b in zip(words, words[1:], strict=False)}
    found = sum(w in have for w in words) + 2 * sum(j in url_words for j in joined)
    return found if found >= len(words) else 0


def _title_matches_text(rest: str, anchor: str) -> bool:
    a, b = set(normalise(rest).split()), set(normalise(anchor).split())
    return bool(a) and bool(b) and len(a & b) >= max(2, 0.6 * min(len(a), len(b)))
