"""The claim_links stage: which sentences of a responding document answer which claims of its target.

For every response (``responses`` rows other than ``cites``, and every comment's reply to its
parent) the stage pairs sentences of the responder with sentences of the target:

- ``quote-reply``: a block-quoted passage that matches a target sentence (or, when the target
  is outside the corpus, the quote itself, if the responses stage attributed it to that target;
  a quoted section title stands for the section's first sentence) is answered by the sentences
  after it: each one with a stance cue, and after a bare stance ("I strongly disagree with
  this.", "Agreed.") the argument that follows; with no cue, the one closest to the quote in
  embedding space, if close enough;
- ``quote-answer``: answers further down the post: a claim (or a sentence with a stance cue)
  within :data:`ANSWER_SPAN` sentences after a quoted passage, or anywhere when it is close to
  a passage in embedding space; for a target in the corpus only among the sentences the
  paraphrase step left;
- ``concession``: "Fair point about X, but ..." / "Y is right that ..., but" near a claim;
- ``paraphrase``: nearest neighbours between the responder's sentences and the target's
  sentences (sentence embeddings): a mutual best match above a threshold, or, with a stance
  cue or a close match, the target sentence's second or third best source. Target sentences
  the claims stage flagged are preferred; the others need a cue or a close match. Headings,
  table cells, meta sentences ("A response to ...", "Thanks to ..."), bibliography entries,
  sentences both documents share word for word, questions and sentences that only report the
  target's view ("Orrin writes that ...") take no part;
- ``reply``: the same for a comment and its parent, with a lower threshold.

A comment deeper in a thread is also paired with the thread's post, and a response with what
its target responds to (a comment on "Reply to X" arguing with X), keeping only close mutual
matches (:data:`STRICT_MIN`).

The relation (attacks | supports) comes from :func:`crux.pipeline.stance.sentence_stance`
(agreement and disagreement phrases, concession patterns, negation mismatch), falling back on
the document-level relation (rebuts → attacks, supports → supports). A question answers
nothing unless it is rhetorical ("Isn't that the whole point?").
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from .docview import MIN_CLAIM_CHARS, DocView, Sent
from .quotes import QuoteGroup, quote_blocks, quote_groups
from .stage import PendingDoc, Stage
from .stance import (
    concession,
    encode,
    is_question,
    normalise,
    quote_similarity,
    rhetorical,
    sentence_stance,
)

if TYPE_CHECKING:
    import duckdb

__all__ = ["ClaimLinksStage", "DocView", "Match", "load_docs", "match_pair", "quote_groups"]

PARAPHRASE_MIN = 0.62  # cosine for a paraphrase link without a stance cue
UNFLAGGED_CUED_MIN = 0.45  # a target sentence not flagged as a claim, with a stance cue
STRICT_MIN = 0.70  # a reply and what its target answers (see links_for)
NEAR_MIN = 0.52  # the same, when the two sentences are each other's best match
CUED_MIN = 0.48  # with an agreement/disagreement/concession cue
REPLY_MIN = 0.35  # comment → parent, with a cue
QUOTE_MIN = 0.75  # quote_similarity for a quote to match a target sentence
FIGURES_MIN = 0.45  # both sentences give figures (a repricing answers a price)
ANSWER_MIN = 0.45  # an uncued sentence right after a quote, as its answer
ANSWER_SPAN = 10  # a claim this many sentences after a quote answers it
QUOTE_NEAR_MIN = 0.55  # a claim anywhere in the post, to the quoted passage this close to it
ARGUED_QUOTES = 2  # quotes answered right after, for a document's unclaimed quotes to count
_DIGIT = re.compile(r"\d")


@dataclass
class Match:
    source: Sent
    target_id: str | None
    target_text: str
    relation: str
    score: float
    method: str


def load_docs(con: duckdb.DuckDBPyConnection, ids: list[str]) -> dict[str, DocView]:
    """Documents with their sentences (and which are claims), keyed by id."""
    ids = [i for i in dict.fromkeys(ids) if i]
    if not ids:
        return {}
    out = {
        r[0]: DocView(*r)
        for r in con.execute(
            "SELECT id, kind, parent_id, title, author, url, url_key, published_at FROM documents "
            "WHERE id IN (SELECT unnest(?))",
            [ids],
        ).fetchall()
    }
    rows = con.execute(
        "SELECT s.document_id, s.id, b.position, b.kind, s.text, s.in_quote, c.sentence_id IS NOT NULL "
        "FROM sentences s JOIN blocks b ON b.id = s.block_id "
        "LEFT JOIN claims c ON c.sentence_id = s.id AND c.score >= 0.5 "
        "WHERE s.document_id IN (SELECT unnest(?)) ORDER BY s.document_id, s.position",
        [ids],
    ).fetchall()
    for doc_id, sid, bpos, bkind, text, in_quote, claim in rows:
        out[doc_id].sents.append(
            Sent(sid, bpos, bkind, text, bool(in_quote) or bkind == "blockquote", bool(claim))
        )
    return out


class _Vectors:
    """Sentence embeddings, computed once per text within a run."""

    def __init__(self) -> None:
        self.cache: dict[str, Any] = {}

    def __call__(self, texts: list[str]) -> Any:
        import numpy as np

        todo = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if todo:
            for t, v in zip(todo, encode(todo), strict=True):
                self.cache[t] = v
        if not texts:
            from .embed import empty

            return empty()
        return np.stack([self.cache[t] for t in texts])

    def prefetch(self, con: duckdb.DuckDBPyConnection, views: dict[str, DocView]) -> None:
        """Load stored vectors of these documents' sentences, then encode the rest in one call."""
        self.prefetch_sents(con, [s for v in views.values() for s in v.sents])

    def prefetch_sents(self, con: duckdb.DuckDBPyConnection, sents: list[Sent]) -> None:
        """:meth:`prefetch` for some sentences only."""
        want = {
            s.id: s.text
            for s in sents
            if (s.in_quote or (s.kind != "heading" and len(s.text) >= 12))
            and s.text not in self.cache
        }
        if not want:
            return
        from .embed import model_name

        rows = con.execute(
            "SELECT item_id, vector FROM embeddings WHERE item_kind IN ('claim', 'quote', 'sentence') "
            "AND model = ? AND item_id IN (SELECT unnest(?))",
            [model_name(), list(want)],
        ).fetchall()
        import numpy as np

        for sid, vec in rows:
            v = np.asarray(vec, dtype="float32")
            self.cache[want[sid]] = v / max(float(np.linalg.norm(v)), 1e-9)
        self([t for t in want.values()])


VECTORS = _Vectors()


def _stance(text: str, target: str, prior: str) -> tuple[str, float, list[str]]:
    rel, strength, cues = sentence_stance(text, target)
    if rel is None:
        return prior, 0.3, ["prior"]
    return rel, strength, cues


_REPORTING = re.compile(
    r"^(?:[A-Z][\w'\u2019.-]+(?:\s+[A-Z][\w'\u2019.-]+){0,2}|[Hh]e|[Ss]he|[Tt]hey|[Tt]he (?:paper|post|authors?))"
    r"\s+(?:recently\s+|also\s+)?(?:argues?|argued|writes?|wrote(?: up)?|claims?|claimed|concludes?|concluded|"
    r"says?|said|proposes?|thinks?|believes?|suggests?|notes?|points? out)\b"
)
_OWN_VOICE = re.compile(r"\b(?:I|I'm|I've|we|my|but|however|wrong|right)\b")
BARE_WORDS = 12  # a stance sentence this short ("I strongly disagree with this.") leads an answer
NEAR_RANK = 2  # a paraphrase may be the target claim's 2nd or 3rd best source sentence
TARGET_CLAIM_BONUS = 0.03  # a target sentence the claims stage flagged is preferred


_META = re.compile(
    r"^(?:an? (?:response|reply) to|in (?:this|my) post|this post|thanks to|thank you|crossposted|cross-posted|"
    r"epistemic status|update:|edit:|previously:|tl;dr)",
    re.I,
)
_NOT_PROSE = frozenset(("heading", "table_cell", "caption", "code", "math"))


_REFERENCE = re.compile(r"\bet al\.|\bdoi\b|https?://|\(\d{4}\)|^[A-Z][\w-]+, [A-Z]\.")


def arguable(s: Sent) -> bool:
    """A sentence that can take part in a paraphrase link: prose, not meta text about the post or
    a bibliography entry."""
    return (
        s.kind not in _NOT_PROSE
        and not _META.match(s.text.strip())
        and not _REFERENCE.search(s.text)
    )


def reporting(text: str) -> bool:
    """True for a sentence that only reports the target's view ("Orrin writes that ...")."""
    t = (text or "").strip()
    if not _REPORTING.match(t):
        return False
    rest = t.split(" ", 2)[-1]
    return not _OWN_VOICE.search(rest)


def _bare(text: str, cue: tuple[str | None, float, list[str]]) -> bool:
    return cue[0] is not None and cue[1] >= 0.55 and len(text.split()) <= BARE_WORDS


def asks(text: str) -> bool:
    """A question that is only a question (rhetorical ones argue)."""
    return is_question(text) and not rhetorical(text)


def _quote_answers(
    answer: list[Sent], ttext: str, prior: str, embeddings: bool
) -> list[tuple[Sent, str, float]]:
    """(sentence, relation, score) answering one quote: every strongly cued sentence among the first
    four after it, and after a bare stance ("I strongly disagree with this.", "Agreed.") the
    argument that follows; with no cue, the sentence closest to the quote if it is close enough.
    Questions answer nothing unless they are rhetorical."""
    answer = [a for a in answer if len(a.text) >= 6 and not asks(a.text)]
    if not answer:
        return []
    cued = [(a, sentence_stance(a.text, ttext)) for a in answer[:4]]
    strong = [(i, a, st) for i, (a, st) in enumerate(cued) if st[0] is not None and st[1] >= 0.55]
    out: list[tuple[Sent, str, float]] = []
    if strong:
        taken: set[str] = set()
        for i, a, (rel, strength, _) in strong:
            if a.id in taken:
                continue
            assert rel is not None  # strong answers have a stance
            out.append((a, rel, 0.6 + 0.4 * strength))
            taken.add(a.id)
            if _bare(a.text, cued[i][1]):
                rest = [x for x in answer[i + 1 : i + 3] if len(x.text) >= 25 and x.id not in taken]
                if rest:
                    b = rest[0]
                    own = sentence_stance(b.text, ttext)
                    brel = own[0] if own[0] is not None and own[1] >= 0.55 else rel
                    out.append((b, brel, 0.6 + 0.3 * strength))
                    taken.add(b.id)
        return out
    long = [a for a in answer if len(a.text) >= 12]
    if not long:
        return []
    if not embeddings:
        a = long[0]
        rel, _s, _ = _stance(a.text, ttext, prior)
        return [(a, rel, 0.6)]
    av = VECTORS([x.text for x in long[:4]])
    qv = VECTORS([ttext])[0]
    sims = av @ qv
    if float(sims.max()) < ANSWER_MIN:
        return []
    a = long[int(sims.argmax())]
    rel, _s, _ = _stance(a.text, ttext, prior)
    return [(a, rel, 0.55 + 0.3 * float(sims.max()))]


ANSWERS_SCORED = 3  # the pair model judges the first sentences after a quote (as labelled)


def _model_answers(answer: list[Sent], qtext: str, pairs: Any) -> list[tuple[Sent, str, float]]:
    """(sentence, relation, score) answering one quote, decided by the claim-pair model
    (:mod:`crux.pipeline.pair_model`): each of the first :data:`ANSWERS_SCORED` sentences after
    the quote whose probability of attacking or supporting the quoted passage reaches the
    model's threshold; the relation is the likelier of the two."""
    answer = [a for a in answer[:ANSWERS_SCORED] if len(a.text) >= 6]
    if not answer:
        return []
    probs = pairs.predict([qtext] * len(answer), [a.text for a in answer])
    out: list[tuple[Sent, str, float]] = []
    for a, (p_none, p_att, p_sup) in zip(answer, probs.tolist(), strict=True):
        if 1.0 - p_none >= pairs.threshold:
            out.append((a, "attacks" if p_att >= p_sup else "supports", 1.0 - p_none))
    return out


def _further_answers(
    src: DocView, passages: list[tuple[QuoteGroup, str | None, str]], used_src: set[str], prior: str
) -> list[Match]:
    """The author's own sentences beyond the first few after a quote that argue with a quoted
    passage: a claim (or a sentence with a stance cue) within ``ANSWER_SPAN`` sentences after the
    passage, or anywhere in the post when it is close to a passage in embedding space (and is a
    claim or has a cue). ``passages``: (quote group, target sentence id, target text)."""
    cands = [
        (i, s)
        for i, s in enumerate(src.sents)
        if s.id not in used_src
        and not s.in_quote
        and s.kind != "heading"
        and len(s.text) >= MIN_CLAIM_CHARS
        and arguable(s)
        and not reporting(s.text)
        and not asks(s.text)
        and not s.text.rstrip().endswith(":")
    ]
    qs = [
        (k, q) for k, (g, _tid, _tt) in enumerate(passages) for q in g.quoted if len(q.text) >= 12
    ]
    if not cands or not qs:
        return []
    import numpy as np

    sim = VECTORS([s.text for _, s in cands]) @ VECTORS([q.text for _, q in qs]).T
    owner = np.array([k for k, _ in qs])
    best_of = np.full((len(cands), len(passages)), -1.0)
    for k in range(len(passages)):
        cols = owner == k
        if cols.any():
            best_of[:, k] = sim[:, cols].max(axis=1)
    out: list[Match] = []
    for n, (i, s) in enumerate(cands):
        before = [k for k, (g, _t, _tt) in enumerate(passages) if g.start < i]
        recent = before[-1] if before else None
        best = int(best_of[n].argmax())
        rel, strength, _ = sentence_stance(s.text, passages[best][2])
        if (
            recent is not None
            and i - passages[recent][0].start <= ANSWER_SPAN
            and (s.claim or strength >= 0.55)
        ):
            k = recent
        elif (
            float(best_of[n, best]) >= QUOTE_NEAR_MIN
            and (s.claim or rel is not None)
            and (recent is not None or strength >= 0.55)
        ):  # before the first quote: only with a cue
            k = best
        else:
            continue
        _g, tid, ttext = passages[k]
        if k != best:
            rel, strength, _ = sentence_stance(s.text, ttext)
        x = float(best_of[n, k])
        score = round(min(1.0, 0.5 * max(x, 0.0) + 0.5 * max(strength, 0.3)), 3)
        out.append(Match(s, tid, ttext, rel or prior, score, "quote-answer"))
    return out


def match_pair(
    src: DocView,
    tgt: DocView | None,
    *,
    prior: str = "attacks",
    external_quotes: bool = False,
    reply: bool = False,
    embeddings: bool = True,
    strict: bool = False,
    loose: bool = True,
    quote_ids: set[str] | None = None,
    pairs: Any = None,
) -> list[Match]:
    """The sentence pairs by which ``src`` answers ``tgt`` (``tgt`` None: the target is outside the corpus).

    ``strict``: only confident paraphrases (a comment and its thread's post, not its parent).
    ``loose`` (the claim_links stage): also near-mutual paraphrases and target sentences the
    claims stage did not flag, and the author's sentences further down that argue with a quoted
    passage; the responses stage counts only the confident kind. ``quote_ids``: for an outside
    target, the quotes that are its (their first sentences' ids); None: every quote.
    ``pairs``: the claim-pair model; when given, it decides which sentences right after a quote
    answer it (method ``quote-reply``) instead of the cue rules.
    """
    out: list[Match] = []
    used_src: set[str] = set()
    used_tgt: dict[str, int] = {}
    passages: list[tuple[QuoteGroup, str | None, str]] = []
    # 1. quote-reply
    for g in [] if strict else quote_blocks(src):
        quoted, answer = g.quoted, g.answer
        if tgt is None and quote_ids is not None and quoted[0].id not in quote_ids:
            continue
        qtext = " ".join(s.text for s in quoted)
        best, best_sim = None, 0.0
        tsents = tgt.sents if tgt is not None else []
        for k, t in enumerate(tsents):
            if t.in_quote or t.kind in ("table_cell", "code", "math", "caption"):
                continue
            sim = (
                max(quote_similarity(q.text, t.text) for q in quoted)
                if len(quoted) > 1
                else quote_similarity(qtext, t.text)
            )
            if t.kind == "heading":
                # a quoted section title stands for the section: its first sentence
                t = next((x for x in tsents[k + 1 :] if x.kind != "heading" and not x.in_quote), t)
            if sim > best_sim:
                best, best_sim = t, sim
        if best is not None and best_sim >= QUOTE_MIN:
            tid, ttext = best.id, best.text
        elif tgt is None and external_quotes:
            tid, ttext = None, qtext
        else:
            continue
        passages.append((g, tid, ttext))
        answers = (
            _model_answers(answer, qtext, pairs)
            if pairs is not None
            else _quote_answers(answer, ttext, prior, embeddings)
        )
        for a, rel, score in answers:
            if a.id in used_src:
                continue
            out.append(Match(a, tid, ttext, rel, round(min(score, 1.0), 3), "quote-reply"))
            used_src.add(a.id)
            if tid:
                used_tgt[tid] = used_tgt.get(tid, 0) + 1
    if tgt is None or not embeddings:
        if loose and embeddings and passages:
            out += _further_answers(src, passages, used_src, prior)
        return out
    # 2. nearest neighbours between the responder's sentences and the target's sentences
    # (every own sentence of the target: the claims stage misses some; its claims get a bonus)
    cands = [
        s
        for s in src.own()
        if s.id not in used_src and arguable(s) and not reporting(s.text) and not asks(s.text)
    ]
    tc = [
        t
        for t in (tgt.own() if loose else tgt.claims())
        if used_tgt.get(t.id, 0) == 0 and arguable(t)
    ]
    if not cands or not tc:
        if loose and passages:
            out += _further_answers(src, passages, used_src, prior)
        return out
    flagged = any(t.claim for t in tc)
    sv = VECTORS([s.text for s in cands])
    tv = VECTORS([t.text for t in tc])
    raw = sv @ tv.T
    import numpy as np

    bonus = np.array([TARGET_CLAIM_BONUS if t.claim else 0.0 for t in tc], dtype=raw.dtype)
    sim = raw + bonus[None, :]
    best_t = sim.argmax(axis=1)
    order = np.argsort(-sim, axis=0)  # per target: source sentences, best first
    picked: list[tuple[float, Match]] = []
    for i, s in enumerate(cands):
        j = int(best_t[i])
        x = float(raw[i, j])
        t = tc[j]
        if normalise(s.text) == normalise(t.text):
            continue  # the same words in both: shared text (a title, a quotation), not an answer
        cue_rel, strength, cues = sentence_stance(s.text, t.text)
        cued = cue_rel is not None and strength >= 0.55
        rank_s = int(np.where(order[:, j] == i)[0][0])
        mutual = rank_s == 0
        near = loose and rank_s <= NEAR_RANK
        conc = concession(s.text)
        if (
            loose
            and flagged
            and not t.claim
            and not ((cued and x >= UNFLAGGED_CUED_MIN) or x >= PARAPHRASE_MIN)
        ):
            continue  # a sentence the claims stage passed over needs a stance cue or a close match
        if strict:
            ok = mutual and x >= STRICT_MIN
        elif reply:
            ok = (cued and x >= REPLY_MIN) or x >= PARAPHRASE_MIN
        else:
            figures = _DIGIT.search(s.text) is not None and _DIGIT.search(t.text) is not None
            ok = (
                mutual
                and (
                    (cued and x >= CUED_MIN)
                    or x >= (NEAR_MIN if loose else PARAPHRASE_MIN)
                    or (figures and x >= FIGURES_MIN)
                )
            ) or (near and ((cued and x >= CUED_MIN) or x >= PARAPHRASE_MIN))
        if not ok:
            continue
        rel = cue_rel if cue_rel is not None else prior
        method = "concession" if conc else ("reply" if reply else "paraphrase")
        score = round(min(1.0, 0.5 * x + 0.5 * max(strength, 0.3)), 3)
        picked.append((score, Match(s, t.id, t.text, rel, score, method)))
    picked.sort(key=lambda p: -p[0])
    for _, m in picked:
        if m.target_id and used_tgt.get(m.target_id, 0) >= 2:
            continue
        out.append(m)
        used_src.add(m.source.id)
        if m.target_id:
            used_tgt[m.target_id] = used_tgt.get(m.target_id, 0) + 1
    if loose and passages:
        # 3. answers further down the post to its quotes of the target, among the sentences left
        out += _further_answers(src, passages, used_src, prior)
    return out


def link_id(source_sentence_id: str, target: str) -> str:
    return hashlib.sha256(f"{source_sentence_id}\0{target}".encode()).hexdigest()[:20]


_PRIOR = {"rebuts": "attacks", "supports": "supports", "extends": "supports"}


def links_for(
    con: duckdb.DuckDBPyConnection, doc_ids: list[str], scorer: Any = None
) -> list[tuple]:
    """claim_links rows for the given responding documents (``scorer``: the claim-pair model)."""
    resp = con.execute(
        "SELECT source_id, target_id, target_url, coalesce(nullif(relation, 'cites'), "
        "json_extract_string(evidence, '$.quote_relation')), evidence FROM responses "
        "WHERE source_id IN (SELECT unnest(?)) AND (relation <> 'cites' "
        "OR json_extract_string(evidence, '$.quote_relation') IS NOT NULL) ORDER BY source_id, target_key",
        [doc_ids],
    ).fetchall()
    # A comment deeper in a thread may answer the thread's post rather than its parent: pair it
    # with the post too, keeping only confident paraphrases.
    thread = con.execute(
        "SELECT c.id, c.post_id FROM documents c JOIN documents p ON p.id = c.parent_id "
        "WHERE c.id IN (SELECT unnest(?)) AND c.kind = 'comment' AND p.kind = 'comment' "
        "AND c.post_id IS NOT NULL AND c.post_id <> c.parent_id ORDER BY c.id",
        [doc_ids],
    ).fetchall()
    # Likewise a reply may answer what its target answers (a comment on "Reply to X" arguing
    # with X's post; a rejoinder arguing with the post it defends): strict pairs too.
    second = con.execute(
        "SELECT DISTINCT a.source_id, b.target_id FROM responses a JOIN responses b ON b.source_id = a.target_id "
        "WHERE a.source_id IN (SELECT unnest(?)) AND a.relation <> 'cites' AND b.relation <> 'cites' "
        "AND b.target_id IS NOT NULL AND b.target_id <> a.source_id ORDER BY ALL",
        [doc_ids],
    ).fetchall()
    answered = {(r[0], r[1]) for r in resp}
    pairs = [(*r, False) for r in resp]
    for c, p in [*thread, *second]:
        if (c, p) not in answered:
            answered.add((c, p))
            pairs.append((c, p, None, "rebuts", None, True))
    views = load_docs(con, list(doc_ids) + [r[1] for r in pairs if r[1]])
    VECTORS.prefetch(
        con,
        {
            k: v
            for k, v in views.items()
            if k in {r[0] for r in pairs} or k in {r[1] for r in pairs}
        },
    )
    rows: dict[str, tuple] = {}
    covered: dict[str, set[str]] = {}  # source sentences already linked, per document
    done_quotes: dict[str, set[str]] = {}  # quotes answered as an outside target's ("*": all)
    for src_id, tgt_id, _url, relation, evidence, strict in pairs:
        src = views.get(src_id)
        if src is None:
            continue
        tgt = views.get(tgt_id) if tgt_id else None
        if tgt_id and tgt is None:
            continue
        ev = json.loads(evidence) if evidence else {}
        external = tgt is None and bool(ev.get("quote"))
        quote_ids = set(ev["quote_groups"]) if external and "quote_groups" in ev else None
        reply = src.kind == "comment" and src.parent_id == tgt_id
        for m in match_pair(
            src,
            tgt,
            prior=_PRIOR.get(relation, "attacks"),
            external_quotes=external,
            reply=reply,
            strict=strict,
            quote_ids=quote_ids,
            pairs=scorer,
        ):
            key = link_id(m.source.id, m.target_id or m.target_text)
            if key in rows:
                continue
            rows[key] = (
                key,
                m.source.id,
                src_id,
                m.target_id,
                tgt_id,
                m.target_text,
                m.relation,
                m.score,
                m.method,
            )
            covered.setdefault(src_id, set()).add(m.source.id)
        if tgt is None:
            done_quotes.setdefault(src_id, set()).update(
                quote_ids if quote_ids is not None else {"*"}
            )
    rows.update(_unclaimed_quotes(con, doc_ids, views, covered, done_quotes, scorer))
    return list(rows.values())


def _unclaimed_quotes(
    con: duckdb.DuckDBPyConnection,
    doc_ids: list[str],
    views: dict[str, DocView],
    covered: dict[str, set[str]],
    done_quotes: dict[str, set[str]],
    pairs: Any = None,
) -> dict[str, tuple]:
    """Answers to quoted passages that no response covers: a quote with no link, or from a work
    the document only cites. The target is the quoted text (``target_document_id`` null). Only
    in a document that argues with its quotes: at least :data:`ARGUED_QUOTES` of them answered
    right after (a stance cue, or a close sentence); then also its answers further down."""
    quoting: dict[str, set[str]] = {}
    first_answers: list[Sent] = []
    for d in doc_ids:
        src = views.get(d)  # links_for loaded every document of the batch
        if (
            src is None
            or "*" in done_quotes.get(d, set())
            or not any(s.in_quote for s in src.sents)
        ):
            continue
        groups = [g for g in quote_blocks(src) if g.quoted[0].id not in done_quotes.get(d, set())]
        if groups:
            quoting[d] = {g.quoted[0].id for g in groups}
            first_answers += [s for g in groups for s in (*g.quoted, *g.answer[:4])]
    if not quoting:
        return {}
    # The test needs the vectors of the quotes and the few sentences after each, not the whole post's.
    VECTORS.prefetch_sents(con, first_answers)
    todo = {
        d: ids
        for d, ids in quoting.items()
        if len(
            {
                m.target_text
                for m in match_pair(
                    views[d], None, external_quotes=True, quote_ids=ids, loose=False, pairs=pairs
                )
            }
        )
        >= ARGUED_QUOTES
    }
    VECTORS.prefetch(con, {d: views[d] for d in todo})
    out: dict[str, tuple] = {}
    for d, ids in todo.items():
        src = views[d]
        used = covered.get(d, set())
        for m in match_pair(src, None, external_quotes=True, quote_ids=ids, pairs=pairs):
            if m.source.id in used:
                continue
            key = link_id(m.source.id, m.target_text)
            out[key] = (
                key,
                m.source.id,
                d,
                None,
                None,
                m.target_text,
                m.relation,
                m.score,
                m.method,
            )
    return out


class ClaimLinksStage(Stage):
    """Sentence pairs between each responding document and what it responds to."""

    name: ClassVar[str] = "claim_links"
    version: ClassVar[str] = "5"  # with the claim-pair model: "6:<its file digest>" (__init__)
    reads: ClassVar[tuple[str, ...]] = (
        "responses",
        "sentences",
        "blocks",
        "claims",
        "documents",
        "embeddings",
    )
    writes: ClassVar[tuple[str, ...]] = ("claim_links",)
    after: ClassVar[tuple[str, ...]] = ("segment", "responses")

    # Redo a document when its responses were recomputed after its claim links (a target
    # arrived or changed), or its claims were (the claims stage ran after this one).
    stale_sql: ClassVar[str | None] = (
        "SELECT DISTINCT d.id, d.content_hash FROM documents d "
        "JOIN _stage_state c ON c.stage = 'claim_links' AND c.document_id = d.id "
        "JOIN _stage_state r ON r.stage IN ('responses', 'claims') AND r.document_id = d.id "
        "WHERE r.done_at > c.done_at AND r.content_hash = d.content_hash ORDER BY d.id"
    )

    def __init__(self, pairs: Any = None, *, use_pair_model: bool | None = None) -> None:
        from .. import config
        from . import pair_model

        if use_pair_model is None:  # the setting: '' (rules, the default) or a model name
            use_pair_model = bool(str(config.get("claim_pair_model") or "").strip())
        self.pairs = pairs
        if self.pairs is None and use_pair_model:
            self.pairs = pair_model.load()  # a missing or corrupt file: one StageError line
        if self.pairs is not None:
            self.version = f"6:{self.pairs.digest}"  # type: ignore[misc]

    def process(self, con: duckdb.DuckDBPyConnection, docs: list[PendingDoc]) -> int:
        from ..db.store import bulk_insert

        ids = [d.id for d in docs]
        con.execute("DELETE FROM claim_links WHERE source_document_id IN (SELECT unnest(?))", [ids])
        rows = links_for(con, ids, self.pairs)
        bulk_insert(
            con,
            "claim_links",
            (
                "id",
                "source_sentence_id",
                "source_document_id",
                "target_sentence_id",
                "target_document_id",
                "target_text",
                "relation",
                "score",
                "method",
            ),
            rows,
            "ON CONFLICT (id) DO NOTHING",
        )
        return len(rows)
