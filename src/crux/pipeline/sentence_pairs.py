"""Which sentences of a responding document answer which sentences of its target.

:class:`SentencePairs` is the sentence-pair matcher both linking stages use: the claim_links
stage for its rows, the responses stage for its ``quotes`` and ``claims`` signals. The methods
(``method`` of a :class:`Match`):

- ``quote-reply``: a block-quoted passage that matches a target sentence (or, when the target
  is outside the corpus, the quote itself, if the responses stage attributed it to that target;
  a quoted section title stands for the section's first sentence) is answered by the sentences
  after it: each one with a stance cue, and after a bare stance ("I strongly disagree with
  this.", "Agreed.") the argument that follows; with no cue, the one closest to the quote in
  embedding space, if close enough. With the claim-pair model (:mod:`crux.pipeline.pair_model`)
  the model decides instead of the cue rules;
- ``quote-answer``: answers further down the post: a claim (or a sentence with a stance cue)
  within ``answer_span`` sentences after a quoted passage, or anywhere when it is close to a
  passage in embedding space; for a target in the corpus only among the sentences the
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

The relation (attacks | supports) comes from :func:`crux.pipeline.stance.sentence_stance`
(agreement and disagreement phrases, concession patterns, negation mismatch), falling back on
the document-level relation. A question answers nothing unless it is rhetorical. Every number
is a field of :class:`crux.pipeline.link_params.PairParams`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .docview import DocView, Sent, Vectors
from .link_params import PairParams
from .quotes import QuoteGroup, quote_blocks
from .stance import (
    asks,
    concession,
    meta_text,
    normalise,
    quote_similarity,
    reference,
    reporting,
    sentence_stance,
)

__all__ = ["Match", "SentencePairs", "arguable"]

_DIGIT = re.compile(r"\d")
_NOT_PROSE = frozenset(("heading", "table_cell", "caption", "code", "math"))


@dataclass
class Match:
    source: Sent
    target_id: str | None
    target_text: str
    relation: str
    score: float
    method: str


def arguable(s: Sent) -> bool:
    """A sentence that can take part in a paraphrase link: prose, not meta text about the post or
    a bibliography entry."""
    return s.kind not in _NOT_PROSE and not meta_text(s.text) and not reference(s.text)


class SentencePairs:
    """The matcher: ``params`` its numbers, ``vectors`` the run's embedding cache, ``scorer`` the
    claim-pair model (None: the cue rules decide the answers to a quote)."""

    def __init__(
        self, params: PairParams, vectors: Vectors | None = None, scorer: Any = None
    ) -> None:
        self.p = params
        self.vectors = vectors if vectors is not None else Vectors()
        self.scorer = scorer

    # ---- helpers -------------------------------------------------------------------------

    def _stance(self, text: str, target: str, prior: str) -> tuple[str, float, list[str]]:
        rel, strength, cues = sentence_stance(text, target)
        if rel is None:
            return prior, 0.3, ["prior"]
        return rel, strength, cues

    def _bare(self, text: str, cue: tuple[str | None, float, list[str]]) -> bool:
        return (
            cue[0] is not None
            and cue[1] >= self.p.strong_cue
            and len(text.split()) <= self.p.bare_words
        )

    def _quote_answers(
        self, answer: list[Sent], ttext: str, prior: str, embeddings: bool
    ) -> list[tuple[Sent, str, float]]:
        """(sentence, relation, score) answering one quote: every strongly cued sentence among the
        first few after it, and after a bare stance ("I strongly disagree with this.", "Agreed.")
        the argument that follows; with no cue, the sentence closest to the quote if it is close
        enough. Questions answer nothing unless they are rhetorical."""
        p = self.p
        answer = [a for a in answer if len(a.text) >= 6 and not asks(a.text)]
        if not answer:
            return []
        cued = [(a, sentence_stance(a.text, ttext)) for a in answer[: p.cued_answers]]
        strong = [
            (i, a, st)
            for i, (a, st) in enumerate(cued)
            if st[0] is not None and st[1] >= p.strong_cue
        ]
        out: list[tuple[Sent, str, float]] = []
        if strong:
            taken: set[str] = set()
            for i, a, (rel, strength, _) in strong:
                if a.id in taken:
                    continue
                assert rel is not None  # strong answers have a stance
                out.append((a, rel, 0.6 + 0.4 * strength))
                taken.add(a.id)
                if self._bare(a.text, cued[i][1]):
                    rest = [
                        x for x in answer[i + 1 : i + 3] if len(x.text) >= 25 and x.id not in taken
                    ]
                    if rest:
                        b = rest[0]
                        own = sentence_stance(b.text, ttext)
                        brel = own[0] if own[0] is not None and own[1] >= p.strong_cue else rel
                        out.append((b, brel, 0.6 + 0.3 * strength))
                        taken.add(b.id)
            return out
        long = [a for a in answer if len(a.text) >= 12]
        if not long:
            return []
        if not embeddings:
            a = long[0]
            rel, _s, _ = self._stance(a.text, ttext, prior)
            return [(a, rel, 0.6)]
        av = self.vectors([x.text for x in long[: p.cued_answers]])
        qv = self.vectors([ttext])[0]
        sims = av @ qv
        if float(sims.max()) < p.answer_min:
            return []
        a = long[int(sims.argmax())]
        rel, _s, _ = self._stance(a.text, ttext, prior)
        return [(a, rel, 0.55 + 0.3 * float(sims.max()))]

    def _model_answers(self, answer: list[Sent], qtext: str) -> list[tuple[Sent, str, float]]:
        """(sentence, relation, score) answering one quote, decided by the claim-pair model: each
        of the first ``answers_scored`` sentences after the quote whose probability of attacking
        or supporting the quoted passage reaches the model's threshold; the relation is the
        likelier of the two."""
        answer = [a for a in answer[: self.p.answers_scored] if len(a.text) >= 6]
        if not answer:
            return []
        pairs = self.scorer
        probs = pairs.predict([qtext] * len(answer), [a.text for a in answer])
        out: list[tuple[Sent, str, float]] = []
        for a, (p_none, p_att, p_sup) in zip(answer, probs.tolist(), strict=True):
            if 1.0 - p_none >= pairs.threshold:
                out.append((a, "attacks" if p_att >= p_sup else "supports", 1.0 - p_none))
        return out

    def _further_answers(
        self,
        src: DocView,
        passages: list[tuple[QuoteGroup, str | None, str]],
        used_src: set[str],
        prior: str,
    ) -> list[Match]:
        """The author's own sentences beyond the first few after a quote that argue with a quoted
        passage: a claim (or a sentence with a stance cue) within ``answer_span`` sentences after
        the passage, or anywhere in the post when it is close to a passage in embedding space
        (and is a claim or has a cue). ``passages``: (quote group, target sentence id, text)."""
        p = self.p
        cands = [
            (i, s)
            for i, s in enumerate(src.sents)
            if s.id not in used_src
            and not s.in_quote
            and s.kind != "heading"
            and len(s.text) >= p.min_claim_chars
            and arguable(s)
            and not reporting(s.text)
            and not asks(s.text)
            and not s.text.rstrip().endswith(":")
        ]
        qs = [
            (k, q)
            for k, (g, _tid, _tt) in enumerate(passages)
            for q in g.quoted
            if len(q.text) >= 12
        ]
        if not cands or not qs:
            return []
        import numpy as np

        sim = self.vectors([s.text for _, s in cands]) @ self.vectors([q.text for _, q in qs]).T
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
                and i - passages[recent][0].start <= p.answer_span
                and (s.claim or strength >= p.strong_cue)
            ):
                k = recent
            elif (
                float(best_of[n, best]) >= p.quote_near_min
                and (s.claim or rel is not None)
                and (recent is not None or strength >= p.strong_cue)
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

    def _quoted_target(
        self, quoted: list[Sent], qtext: str, tgt: DocView | None
    ) -> tuple[Sent | None, float]:
        """The target sentence a quote matches best, and how well (a quoted heading stands for
        its section's first sentence)."""
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
                t = next((x for x in tsents[k + 1 :] if x.kind != "heading" and not x.in_quote), t)
            if sim > best_sim:
                best, best_sim = t, sim
        return best, best_sim

    # ---- the matcher ---------------------------------------------------------------------

    def match(
        self,
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
        use_scorer: bool = True,
    ) -> list[Match]:
        """The sentence pairs by which ``src`` answers ``tgt`` (``tgt`` None: outside the corpus).

        ``strict``: only confident paraphrases (a comment and its thread's post, not its parent).
        ``loose`` (the claim_links stage): also near-mutual paraphrases and target sentences the
        claims stage did not flag, and the author's sentences further down that argue with a
        quoted passage; the responses stage counts only the confident kind. ``quote_ids``: for an
        outside target, the quotes that are its (their first sentences' ids); None: every quote.
        ``use_scorer``: let the claim-pair model (when the matcher has one) decide which
        sentences right after a quote answer it.
        """
        p = self.p
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
            best, best_sim = self._quoted_target(quoted, qtext, tgt)
            if best is not None and best_sim >= p.quote_min:
                tid, ttext = best.id, best.text
            elif tgt is None and external_quotes:
                tid, ttext = None, qtext
            else:
                continue
            passages.append((g, tid, ttext))
            answers = (
                self._model_answers(answer, qtext)
                if self.scorer is not None and use_scorer
                else self._quote_answers(answer, ttext, prior, embeddings)
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
                out += self._further_answers(src, passages, used_src, prior)
            return out
        # 2. nearest neighbours between the responder's sentences and the target's sentences
        # (every own sentence of the target: the claims stage misses some; its claims get a bonus)
        cands = [
            s
            for s in src.own(p.min_claim_chars)
            if s.id not in used_src and arguable(s) and not reporting(s.text) and not asks(s.text)
        ]
        tc = [
            t
            for t in (tgt.own(p.min_claim_chars) if loose else tgt.claims(p.min_claim_chars))
            if used_tgt.get(t.id, 0) == 0 and arguable(t)
        ]
        if not cands or not tc:
            if loose and passages:
                out += self._further_answers(src, passages, used_src, prior)
            return out
        out += self._paraphrases(cands, tc, used_src, used_tgt, prior, reply, strict, loose)
        if loose and passages:
            # 3. answers further down the post to its quotes of the target, among the sentences left
            out += self._further_answers(src, passages, used_src, prior)
        return out

    def _paraphrases(
        self,
        cands: list[Sent],
        tc: list[Sent],
        used_src: set[str],
        used_tgt: dict[str, int],
        prior: str,
        reply: bool,
        strict: bool,
        loose: bool,
    ) -> list[Match]:
        """Step 2 of :meth:`match`: nearest neighbours (``used_src``/``used_tgt`` are updated)."""
        import numpy as np

        p = self.p
        flagged = any(t.claim for t in tc)
        sv = self.vectors([s.text for s in cands])
        tv = self.vectors([t.text for t in tc])
        raw = sv @ tv.T
        bonus = np.array([p.target_claim_bonus if t.claim else 0.0 for t in tc], dtype=raw.dtype)
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
            cue_rel, strength, _cues = sentence_stance(s.text, t.text)
            cued = cue_rel is not None and strength >= p.strong_cue
            rank_s = int(np.where(order[:, j] == i)[0][0])
            mutual = rank_s == 0
            near = loose and rank_s <= p.near_rank
            conc = concession(s.text)
            if (
                loose
                and flagged
                and not t.claim
                and not ((cued and x >= p.unflagged_cued_min) or x >= p.paraphrase_min)
            ):
                continue  # a sentence the claims stage passed over needs a stance cue or a close match
            if strict:
                ok = mutual and x >= p.strict_min
            elif reply:
                ok = (cued and x >= p.reply_min) or x >= p.paraphrase_min
            else:
                figures = _DIGIT.search(s.text) is not None and _DIGIT.search(t.text) is not None
                ok = (
                    mutual
                    and (
                        (cued and x >= p.cued_min)
                        or x >= (p.near_min if loose else p.paraphrase_min)
                        or (figures and x >= p.figures_min)
                    )
                ) or (near and ((cued and x >= p.cued_min) or x >= p.paraphrase_min))
            if not ok:
                continue
            rel = cue_rel if cue_rel is not None else prior
            method = "concession" if conc else ("reply" if reply else "paraphrase")
            score = round(min(1.0, 0.5 * x + 0.5 * max(strength, 0.3)), 3)
            picked.append((score, Match(s, t.id, t.text, rel, score, method)))
        picked.sort(key=lambda q: -q[0])
        out: list[Match] = []
        for _, m in picked:
            if m.target_id and used_tgt.get(m.target_id, 0) >= 2:
                continue
            out.append(m)
            used_src.add(m.source.id)
            if m.target_id:
                used_tgt[m.target_id] = used_tgt.get(m.target_id, 0) + 1
        return out
