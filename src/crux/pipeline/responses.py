"""The responses stage: which document answers which, and how (rebuts | supports | extends | cites).

Candidates come only from local structure, never from a scan of the corpus: the document's
hyperlinks (``links``), its parent (comments), and, for a title that names someone ("Contra
Binder ..."), that author's earlier posts. Each candidate collects signals:

- ``reply``: a comment answers its parent;
- ``title``: the title announces a response to the target ("Contra X", "Reply to X",
  "Re: <title>", "In defense of <title>", "Against X"), or names it (its title, or the link's
  text in quotation marks);
- ``opening``: the link sits in the opening paragraph; ``cue``: its paragraph announces a
  response ("A response to @x's post", "I disagree"); ``reported``: it only reports the target
  ("X recently wrote up an argument", "argues that"); ``stance``: agreement or disagreement words
  around an opening link;
- ``followup``: the author continues a post ("My last post analyzed…", "This is a follow-up to",
  "3 weeks ago I asked", "This post began as a response to", a title that is the target's title
  plus "Retrospective" or "Update");
- ``quotes``: quotations of the target: block quotes that match its sentences, quotations inside
  the author's sentences that do, and, for a target outside the corpus, the block quotes its link
  introduces (:func:`crux.pipeline.quotes.attribute_quotes`) when they are argued with or open
  the post (``quoted``, weak, otherwise);
- ``mentions``: the target's author is named outside the link;
- ``claims``: sentence pairs with the target's claims (embeddings, stance cues);
- against: ``cite``: a citation cue in the link's sentence ("see also", "Previous post in this
  sequence", "summarized by"), a link in a list, a sentence that links three or more documents.

The weighted sum is the score. A link is a response when the score reaches :data:`RESPONSE_MIN`
and one signal says the document answers it (reply, title, follow-up, cue, quotes, stance, or
two claim pairs): an opening link and a reporting verb alone are a citation. Its relation comes
from the follow-up cue (extends), the cue phrases around the link (anchor text removed: "Sasha
Vey against" describes the target), the title, the stance of the answers to its quotes, then
the majority stance of the claim pairs. Otherwise the row is kept as ``cites``. A pass after the
batches makes "supports a rebuttal of T" a rebuttal of T. Outside targets keep ``target_url``,
the quoted text and the quotes' ids (``evidence.quote_groups``, which the claim_links stage
answers); their ``target_id`` fills in when they are ingested (the stage re-examines documents
whose link targets were (re)segmented after them).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, ClassVar

from ..htmltext import url_host
from .claim_links import QUOTE_MIN, VECTORS, DocView, load_docs, match_pair
from .quotes import LinkSite, QuoteGroup, attribute_quotes, inline_quotes, quote_blocks
from .stage import PendingDoc, Stage
from .stance import (
    cite_cue,
    followup_cue,
    link_relation,
    normalise,
    quote_similarity,
    reporting_cue,
    response_cue,
    review_cue,
    sentence_stance,
    title_response,
)

if TYPE_CHECKING:
    import duckdb

__all__ = ["RESPONSE_MIN", "ResponsesStage", "analyse"]

RESPONSE_MIN = 0.5
_NAMED = re.compile(
    r"\b(?:paper|post|essay|article|report|book|blog ?post|piece)\s+(?:called|titled|"
    r"named|entitled)\s+[\"\u201c']([^\"\u201d']{4,120})[\"\u201d']",
    re.I,
)
OPENING_SENTS = 8  # a quote starting this early is what the post starts from
_W = {
    "named": 0.25,
    "reply": 0.6,
    "title": 0.6,
    "followup": 0.5,
    "opening": 0.25,
    "cue": 0.3,
    "review": 0.3,
    "reported": 0.15,
    "stance": 0.15,
    "quotes": 0.5,
    "quoted": 0.1,
    "mentions": 0.05,
    "claims": 0.2,
    "cite": -0.6,
    "list": -0.3,
    "crowded": -0.25,
}
# Signals that say the document answers the target; without one (or two claim pairs) a link is a
# citation whatever its score ("Jessica recently wrote about X" in an opening).
_EVIDENCE = ("reply", "title", "followup", "cue", "quotes", "stance", "named", "review")
# A newsletter's summary of a post is not a response to it, whatever its opinion adds.
_SUMMARY = re.compile(r"summari[sz]ed by", re.I)
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


def _title_matches(rest: str, tgt: DocView | None) -> bool:
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


def analyse(
    con: duckdb.DuckDBPyConnection,
    doc_id: str,
    views: dict[str, DocView],
    links: list[tuple],
    by_author: dict[str, list[str]],
) -> list[tuple]:
    """responses rows for one document."""
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
            if c["target_id"] in views and _title_matches(tr[1], views[c["target_id"]])
        ]
        if linked:
            title_target = linked[0]
        else:
            for tid in by_author.get(doc_id, []):
                if tid in views and _title_matches(tr[1], views[tid]):
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
            if gi in owners and not owners[gi][1] and g.start < OPENING_SENTS
        ),
        None,
    )
    quote_texts = [s.text for s in src.sents if s.in_quote]
    if quote_texts and not any(c["target_id"] is None and c["context"] for c in cands.values()):
        # An outside work named, not linked, in the opening and quoted below it.
        for s in src.sents[:4]:
            m = _NAMED.search(s.text)
            if m:
                name = normalise(m.group(1))
                c = cand("named:" + name, None, None)
                c["context"].append((src.sents.index(s), s))
                c["anchors"].append(m.group(1))
                c["signals"]["named"] = m.group(1)
                break
    review = review_cue(
        " ".join([s.text for s in src.sents if not s.in_quote and s.kind != "heading"][:6]),
        src.title,
    )
    rows = []
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
            if n_sent.get(s.id, 0) >= 3:
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
            inline = _inline_matches(src, tgt)
            strong = inline > 0 or any(
                k in sig for k in ("reply", "title", "opening", "cue", "followup")
            )
            if strong or quote_texts:
                matches = match_pair(src, tgt, reply="reply" in sig, embeddings=strong, loose=False)
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
                        (votes if strength >= 0.55 else weak)[rel] += strength
            strong_votes = bool(votes["attacks"] or votes["supports"])
            if not strong_votes:
                votes = weak  # hedged answers (negation, "but") still lean one way
            quoted = [q.text for g, _ in owned for q in g.quoted]
            if strong_votes or any(not inh and g.start < OPENING_SENTS for g, inh in owned):
                sig["quotes"] = len(quoted)
            else:
                sig["quoted"] = len(quoted)
        score = 0.0
        for k, w in _W.items():
            if k in sig:
                score += w
        if "cite" in sig and (
            "title" in sig or "quotes" in sig or "reply" in sig or "followup" in sig
        ):
            score -= _W["cite"] / 2  # a strong signal outweighs a "see also"
        if "opening" in sig and "cue" in sig:
            score += 0.1
        score = max(0.0, min(1.0, score))
        cued = any(sentence_stance(m.source.text, m.target_text)[1] >= 0.55 for m in matches)
        evidence_of_response = (
            any(k in sig for k in _EVIDENCE)
            or sig.get("claims", 0) >= 2
            or ("claims" in sig and cued and "mentions" in sig)
        )
        # Quoting an outside work is mostly exposition or evidence ("As Bryan Caplan says:", a
        # primary source, a definition): alone, even with a reply after it, the document only
        # cites it. The answers to its quotes still make claim links ("quote_relation").
        # A post or comment of a forum (or of the source's own site) that is not in the corpus
        # is quoted to be answered more often: it keeps the quotes as evidence.
        quotes_only = (
            tgt is None
            and not _forum_post(key, c["target_url"], src.url)
            and not any(k in sig for k in _EVIDENCE if k != "quotes")
        )
        relation, why, quote_relation = "cites", None, None
        if (
            score >= RESPONSE_MIN
            and evidence_of_response
            and not _SUMMARY.search(str(sig.get("cite", "")))
        ):
            relation, why = _relation(context, sig, tr, tgt, matches, src, votes)
            if quotes_only:
                relation, quote_relation = "cites", relation
        evidence: dict[str, Any] = {"signals": sig}
        if quote_relation:
            evidence["quote_relation"] = quote_relation
        if why:
            evidence["relation_from"] = why
        if c["anchors"]:
            evidence["anchor"] = c["anchors"][0]
        if context:
            evidence["context"] = context[:400]
        if quoted:
            evidence["quote"] = quoted[:8]
        if owned:
            evidence["quote_groups"] = [g.quoted[0].id for g, _ in owned]
        rows.append(
            (
                doc_id,
                key,
                c["target_id"],
                c["target_url"],
                relation,
                round(score, 3),
                json.dumps(evidence, ensure_ascii=False),
            )
        )
    return rows


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


def _inline_matches(src: DocView, tgt: DocView) -> int:
    """How many quotations inside the author's own sentences are sentences of ``tgt``."""
    n = 0
    tsents = [t.text for t in tgt.sents if not t.in_quote]
    for s in src.sents:
        if s.kind == "blockquote":
            continue
        for q in inline_quotes(s.text):
            if any(quote_similarity(q, t) >= QUOTE_MIN for t in tsents):
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


def _forum_post(key: str, url: str | None, source_url: str | None) -> bool:
    """A ForumMagnum post or comment (key ``fm:<id>``), or a page of the source's own site."""
    host = url_host(url)
    return key.startswith("fm:") or (bool(host) and host == url_host(source_url))


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


def _relation(
    context: str,
    sig: dict[str, Any],
    tr: tuple[str, str] | None,
    tgt: DocView | None,
    matches: list,
    src: DocView,
    quote_votes: dict[str, float],
) -> tuple[str, str]:
    rel, why = _relation_from_cues(context, sig, tr, tgt, matches, src, quote_votes)
    if (
        rel == "rebuts"
        and why in ("claim stance", "quote answers", "default")
        and (src.title or "").rstrip().endswith("?")
    ):
        # a question post takes its target up; only a cue or a title makes it a rebuttal
        return "extends", f"question post ({why})"
    return rel, why


def _relation_from_cues(
    context: str,
    sig: dict[str, Any],
    tr: tuple[str, str] | None,
    tgt: DocView | None,
    matches: list,
    src: DocView,
    quote_votes: dict[str, float],
) -> tuple[str, str]:
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
    rel, cue = link_relation(context)
    if rel:
        return rel, f"cue: {cue}"
    if "title" in sig and tr:
        cue_word = tr[0]
        if cue_word.startswith("in defen") or cue_word == "defending":
            if tgt is not None and _title_matches(tr[1], tgt):
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


class ResponsesStage(Stage):
    """Document-level responses from links, replies, titles, quotes and claim similarity."""

    name: ClassVar[str] = "responses"
    version: ClassVar[str] = "5"
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

    def process(self, con: duckdb.DuckDBPyConnection, docs: list[PendingDoc]) -> int:
        from ..db.store import bulk_insert

        ids = [d.id for d in docs]
        con.execute("DELETE FROM responses WHERE source_id IN (SELECT unnest(?))", [ids])
        links: dict[str, list[tuple]] = {}
        for row in con.execute(
            "SELECT source_id, position, target_url, target_key, target_id, anchor_text FROM links "
            "WHERE source_id IN (SELECT unnest(?)) ORDER BY source_id, position",
            [ids],
        ).fetchall():
            links.setdefault(row[0], []).append(row[1:])
        # Posts by an author named in a "Contra X" title, published before the responder.
        by_author: dict[str, list[str]] = {}
        titled = con.execute(
            "SELECT id, title, published_at FROM documents WHERE id IN (SELECT unnest(?)) "
            "AND kind = 'post'",
            [ids],
        ).fetchall()
        for did, title, published in titled:
            tr = title_response(title)
            if not tr:
                continue
            words = [w for w in normalise(tr[1]).split() if len(w) > 2][:4]
            if not words:
                continue
            alternatives = "|".join(re.escape(w) for w in words)
            hits = con.execute(
                "SELECT id FROM documents WHERE kind = 'post' AND id <> ? AND author IS NOT NULL "
                "AND regexp_matches(lower(author), ?) AND (? IS NULL OR published_at <= ?) "
                "ORDER BY published_at DESC LIMIT 20",
                [did, rf"\b({alternatives})\b", published, published],
            ).fetchall()
            by_author[did] = [h[0] for h in hits]
        need = set(ids)
        for link_rows in links.values():
            need.update(r[3] for r in link_rows if r[3])
        for named_ids in by_author.values():
            need.update(named_ids)
        parents = con.execute(
            "SELECT parent_id FROM documents WHERE id IN (SELECT unnest(?)) "
            "AND parent_id IS NOT NULL",
            [ids],
        ).fetchall()
        need.update(p[0] for p in parents)
        views = load_docs(con, list(need))
        hot = {d for d in ids if d in views and (views[d].kind == "comment" or d in by_author)}
        VECTORS.prefetch(
            con,
            {
                k: v
                for k, v in views.items()
                if k in hot or any(views[h].parent_id == k for h in hot)
            },
        )
        rows: list[tuple] = []
        for d in ids:
            if d in views:
                rows.extend(analyse(con, d, views, links.get(d, []), by_author))
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
