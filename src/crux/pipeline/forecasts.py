"""The forecasts stage: sentences that put a probability on a future or unresolved event.

Rules, no training. A sentence is a forecast when it has

- a numeric probability *with a probability cue* ("30% chance", "1 in 5 chance", "3:1 odds",
  "p = 0.3", "a 70-80% chance", "somewhere between 20% and 40%", "Metaculus puts this at 25%"),
- or a verbal likelihood ("likely", "probably", "I expect", "I'd bet", "chances are",
  "almost certainly not") about something still to come (a future marker: will, going to,
  a horizon, "likely to"),
- or an unhedged prediction with a horizon ("X will happen by 2030").

Numbers without a probability cue (measured rates, prices, hyperparameters, shares of a
sample, past years) are not forecasts, nor are questions.

Verbal scale (``VERBAL_SCALE``): almost certainly 0.95, very likely 0.85, likely / probably /
I expect / chances are / I'd bet 0.7, more likely than not 0.6, toss-up 0.5, possibly 0.4,
probably not 0.3, unlikely / doubt 0.2, very unlikely 0.1, almost certainly not 0.05.

Horizons resolve against the document's ``published_at``: a bare year is its 31 December;
"before 2030" is 31 December 2029; "in the next 10 years" / "within five years" /
"in a decade" add to the publication date; "next year", "this year", "by the end of the
decade" (31 December of the decade's last year: 2029 for the 2020s) and "of the century" (2100)
end on 31 December.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, ClassVar

from .stage import PendingDoc, Stage

if TYPE_CHECKING:
    import duckdb
    from spacy.tokens import Doc

VERBAL_SCALE: dict[str, float] = {
    "almost certainly not": 0.05, "very unlikely": 0.1, "highly unlikely": 0.1,
    "extremely unlikely": 0.05, "i'd be surprised": 0.15, "i would be surprised": 0.15,
    "unlikely": 0.2, "doubt": 0.2, "probably not": 0.3, "possibly": 0.4, "might well": 0.5,
    "toss-up": 0.5, "coin flip": 0.5, "50/50": 0.5, "more likely than not": 0.6,
    "probably": 0.7, "likely": 0.7, "i expect": 0.7, "i'd expect": 0.7, "chances are": 0.7,
    "odds are": 0.7, "i'd bet": 0.7, "i would bet": 0.7, "i suspect": 0.65, "my guess is": 0.6,
    "very likely": 0.85, "highly likely": 0.9, "most likely": 0.8, "almost certainly": 0.95,
    "virtually certain": 0.97, "near certain": 0.95, "almost certain": 0.95, "certainly": 0.97,
    "expects": 0.7, "expected": 0.7,
}
_VERBAL = re.compile(
    r"\b(almost certainly not|very unlikely|highly unlikely|extremely unlikely|i'?d be surprised|"
    r"i would be surprised|more likely than not|very likely|highly likely|most likely|"
    r"almost certainly|almost certain|virtually certain|near certain|probably not|chances are|"
    r"odds are|i'?d bet|i would bet|i'?d expect|i (?:also |still |now |fully |do )?expect|"
    r"my guess is|i suspect|i predict|predicts|expects|toss-up|coin flip|unlikely|likely|"
    r"probably|possibly|doubt)\b", re.I)

_NUM = r"(\d+(?:\.\d+)?)"
_PCT = rf"{_NUM}\s*(?:%|percent\b|per cent\b)"
_RANGE = re.compile(
    rf"(?:between\s+)?{_NUM}\s*(?:%|percent)?\s*(?:-|–|—|to|and)\s*{_PCT}", re.I)
_PERCENT = re.compile(_PCT, re.I)
_ONE_IN = re.compile(r"\b(\d+|one|a)\s+(?:in|out of)\s+(\d+|two|three|four|five|six|ten|a hundred)\b", re.I)
_ODDS = re.compile(r"\b(\d+(?:\.\d+)?)\s*(?::|to)\s*(\d+(?:\.\d+)?)\s*(?:odds\b|(against|on|in favou?r)\b)|"
                   r"\bodds (?:are|of) (\d+(?:\.\d+)?)\s*(?::|to)\s*(\d+(?:\.\d+)?)(\s+against)?", re.I)
_PVAL = re.compile(r"\b(?:p|p\([^)]{0,40}\)|probability|credence|chance)\s*(?:=|of|is|at|≈|~)\s*"
                   r"(0?\.\d+|1\.0|0|1)\b(?!\s*%)", re.I)
_FIFTY = re.compile(r"\b50/50\b|\bfifty-fifty\b|\btoss-up\b", re.I)
_CUE = re.compile(
    r"\b(chances?|probabilit(?:y|ies)|likelihood|odds|credence|metaculus|manifold|polymarket|"
    r"prediction markets?|markets? (?:puts?|gives?)|put(?:s|ting)? (?:it|this|that|the \w+|\w+) at|"
    r"give(?:s)? (?:it|this|that|\w+) (?:a |an )?\d|i'?d (?:say|put|give)|p\([^)]*\)|p\s*=)", re.I)
# Weaker cues: enough only together with a future marker.
_WEAK_CUE = re.compile(r"\b(confiden(?:t|ce)|sure|certain|likely|unlikely|expect(?:s|ed)?|predict|"
                       r"forecasts?|bet|risk of)\b", re.I)
# A percentage followed by these words is a share or a change, not a probability.
_NOT_PROB_AFTER = re.compile(r"\s*(?:of\b|higher|lower|more|less|fewer|increase|decrease|reduction|"
                             r"cheaper|faster|slower|larger|smaller|growth|accura|similar|plan\b|"
                             r"predictions|of the)", re.I)
_LIST_ITEM = re.compile(r":\s*\d{1,3}\s*%(?:\s+\d+)?\.?$")
# Contexts in which a percentage measures something that already happened or is a setting.
_MEASURED = re.compile(
    r"\b(respondents|surveyed|survey (?:found|showed)|of (?:the )?(?:sample|participants|patients|"
    r"people|users|cases|voters|adults|population|students)|accura(?:te|cy)|learning rate|"
    r"dropout|p-value|turnout|fee|interest rate of|grew|fell|rose|dropped|increased|decreased|"
    r"declined|was|were|had been|retains?|base rate|attack rate|positive rate|confidence "
    r"interval|prediction interval|discount)\b", re.I)
_FUTURE = re.compile(
    r"\b(will|won'?t|'ll|going to|gonna|shall|(?:is|are|be|seems?|looks?|'re|'s) (?:very |highly |quite |"
    r"fairly |pretty |not |more |less )*(?:likely|unlikely) to|expects? (?:\w+ )?to|by (?:the end "
    r"of )?(?:19|20)\d\d|in the (?:next|coming) |next (?:year|decade|month|week|century)|"
    r"eventually|soon|someday|in the future|future|ever)\b", re.I)
_PAST_ONLY = re.compile(r"\b(was|were|had|did|happened|turned out)\b", re.I)
_HOLDER_VERBS = frozenset(("put", "give", "expect", "predict", "estimate", "forecast", "think",
                           "believe", "say", "bet", "assign", "project", "agree", "claim",
                           "argue", "reckon", "price", "echo"))
_SELF = frozenset(("i", "we", "me", "us", "you", "one", "it", "this", "that", "there", "they"))

_NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
                 "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
                 "fifteen": 15, "twenty": 20, "thirty": 30, "fifty": 50, "a hundred": 100,
                 "hundred": 100, "a few": 3, "couple of": 2, "a couple of": 2}
_UNIT = r"(years?|months?|weeks?|days?|decades?|centur(?:y|ies))"
_QTY = r"(\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|fifty|a hundred|hundred)"
_REL = re.compile(rf"\b(?:in|within|over) (?:the )?(?:next |coming )?{_QTY} {_UNIT}|"
                  rf"\b{_QTY} {_UNIT} (?:from now|out|hence)|\bin the next {_UNIT}", re.I)
_YEAR = re.compile(r"\b(by|before|in|until|through|around|circa|till)\s+(?:the end of\s+|mid-?|"
                   r"early\s+|late\s+)?((?:19|20|21)\d\d)\b", re.I)
_NAMED = re.compile(r"\b(?:by |before |until )?(?:the end of )?(this|next) (year|decade|century|month)\b|"
                    r"\bby the end of the (year|decade|century)\b|\bthis (?:coming )?(year|decade)\b",
                    re.I)


@dataclass
class Forecast:
    probability: float | None = None
    low: float | None = None
    high: float | None = None
    verbal: str | None = None
    horizon: date | None = None
    horizon_text: str | None = None
    event: str | None = None
    holder: str | None = None


def _num(word: str) -> float:
    w = word.lower()
    return float(_NUMBER_WORDS[w]) if w in _NUMBER_WORDS else float(w)


def _add(base: date, n: float, unit: str) -> date:
    unit = unit.lower().rstrip("s")
    if unit.startswith("centur"):
        unit, n = "year", n * 100
    if unit == "decade":
        unit, n = "year", n * 10
    if unit == "year":
        years = int(n)
        try:
            return base.replace(year=base.year + years)
        except ValueError:  # 29 February
            return base.replace(year=base.year + years, day=28)
    if unit == "month":
        import calendar
        total = base.month - 1 + int(n)
        year, month = base.year + total // 12, total % 12 + 1
        return date(year, month, min(base.day, calendar.monthrange(year, month)[1]))
    from datetime import timedelta
    return base + timedelta(days=round({"week": 7, "day": 1}[unit] * n))


def resolve_horizon(text: str, published: date | datetime | None) -> tuple[date | None, str | None]:
    """(horizon date, horizon as written) of the first future time expression in ``text``."""
    pub = published.date() if isinstance(published, datetime) else published
    for m in _YEAR.finditer(text):
        year = int(m.group(2))
        if pub and year < pub.year:
            continue
        prep = m.group(1).lower()
        written = m.group(0)
        if "mid" in written.lower():
            return date(year, 6, 30), written
        if prep == "before":
            return date(year - 1, 12, 31), written
        return date(year, 12, 31), written
    m = _REL.search(text)
    if m:
        qty = m.group(1) or m.group(3)
        unit = m.group(2) or m.group(4) or m.group(5)
        n = _num(qty) if qty else 1.0
        return (_add(pub, n, unit) if pub else None), m.group(0)
    m = _NAMED.search(text)
    if m:
        which = (m.group(1) or "this").lower() if m.group(2) else "this"
        unit = (m.group(2) or m.group(3) or m.group(4)).lower()
        if not pub:
            return None, m.group(0)
        step = 1 if which == "next" else 0
        if unit == "year":
            return date(pub.year + step, 12, 31), m.group(0)
        if unit == "decade":
            return date(pub.year // 10 * 10 + 9 + 10 * step, 12, 31), m.group(0)
        if unit == "century":
            return date(pub.year // 100 * 100 + 100 * (1 + step), 12, 31), m.group(0)
        month = pub.month + step
        year = pub.year + (month - 1) // 12
        month = (month - 1) % 12 + 1
        import calendar
        return date(year, month, calendar.monthrange(year, month)[1]), m.group(0)
    return None, None


def _numeric(text: str) -> tuple[float | None, float | None, float | None, str | None]:
    """(probability, low, high, matched text) of the probability stated as a number."""
    m = _RANGE.search(text)
    if m:
        lo, hi = float(m.group(1)) / 100, float(m.group(2)) / 100
        if 0 <= lo <= hi <= 1:
            return round((lo + hi) / 2, 6), lo, hi, m.group(0)
    for m in _PERCENT.finditer(text):
        v = float(m.group(1)) / 100
        if 0 <= v <= 1 and not _NOT_PROB_AFTER.match(text, m.end()):
            return v, None, None, m.group(0)
    m = _ODDS.search(text)
    if m:
        a, b = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(5))
        against = (m.group(3) or "").lower() == "against" or bool(m.group(6))
        a_f, b_f = float(a), float(b)
        if a_f + b_f > 0:
            p = a_f / (a_f + b_f)
            return (round(1 - p, 6) if against else round(p, 6)), None, None, m.group(0)
    m = _ONE_IN.search(text)
    if m:
        words = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "ten": 10, "a hundred": 100}
        a = 1.0 if m.group(1).lower() in ("one", "a") else float(m.group(1))
        b_raw = m.group(2).lower()
        b = float(words.get(b_raw, b_raw))
        if 0 < a <= b:
            return round(a / b, 6), None, None, m.group(0)
    m = _PVAL.search(text)
    if m:
        return float(m.group(1)), None, None, m.group(0)
    m = _FIFTY.search(text)
    if m:
        return 0.5, None, None, m.group(0)
    return None, None, None, None


def _holder(doc: Doc | None, text: str) -> str | None:
    m = re.search(r"\baccording to ([A-Z][\w.'-]*(?: [A-Z][\w.'-]*)*)", text)
    if m:
        return m.group(1)
    if doc is None:
        m = re.match(r"\s*((?:[A-Z][\w'-]+\s?){1,3}|(?:the )?(?:median |average )?(?:respondents?|"
                     r"experts?|forecasters?|markets?|prediction markets|survey)\b)\s+"
                     r"(?:puts?|gives?|expects?|predicts?|estimates?|thinks?|forecasts?|bets?)\b",
                     text, re.I)
        return m.group(1).strip() if m and m.group(1).strip().lower() not in _SELF else None
    for tok in doc:
        if tok.lemma_.lower() in _HOLDER_VERBS and tok.pos_ in ("VERB", "AUX"):
            for child in tok.children:
                if child.dep_ in ("nsubj", "nsubjpass") and child.lower_ not in _SELF:
                    span = doc[child.left_edge.i:child.right_edge.i + 1].text
                    if span.lower() in _SELF or not any(c.isalpha() for c in span):
                        continue
                    if child.pos_ in ("PROPN", "NOUN") or child.ent_type_:
                        return span
    return None


_LEAD = re.compile(
    r"^\s*(?:(?:and|but|so|also|still|overall|however|honestly|personally),?\s+)*(?:i|we) "
    r"(?:(?:really|still|also|now|do|would|'d) )?(?:think|believe|expect|suspect|guess|predict|"
    r"bet|reckon|'d bet|would bet|'d say|would say|'d put it at [^ ]+ that|give [^ ]+ odds that)"
    r"(?: that)?\s+|^\s*(?:chances|odds) are(?: that)?\s+|^\s*my guess is(?: that)?\s+", re.I)


def _event(doc: Doc | None, text: str) -> str:
    """The forecast clause: the that-clause or of-phrase after the probability, else the sentence."""
    if doc is not None:
        for tok in doc:
            if tok.lower_ in ("chance", "chances", "probability", "odds", "likelihood", "risk",
                              "credence"):
                for child in tok.children:
                    if child.dep_ in ("acl", "ccomp", "relcl") or (
                            child.dep_ == "prep" and child.lower_ in ("of", "that", "on", "for")):
                        span = doc[child.left_edge.i:child.right_edge.i + 1].text
                        span = re.sub(r"^(of|that|on|for)\s+", "", span)
                        if len(span.split()) >= 2:
                            return span[:300]
    out = _LEAD.sub("", text).strip().rstrip(".!;:")
    return out[:300]


def parse_forecast(text: str, published: date | datetime | None = None,
                   doc: Doc | None = None) -> Forecast | None:
    """A :class:`Forecast` when ``text`` states a probability about a future or open event."""
    t = " ".join(text.split()).replace("\u2019", "'")
    if len(t) < 8 or t.rstrip(")\"'”’ ").endswith("?"):
        return None
    pub = published.date() if isinstance(published, datetime) else published
    horizon, horizon_text = resolve_horizon(t, pub)
    future = bool(_FUTURE.search(t)) or horizon is not None
    prob, low, high, num_text = _numeric(t)
    verbal = None
    if prob is not None:
        strong = _CUE.search(t) or _LIST_ITEM.search(t)
        if not strong and not (_WEAK_CUE.search(t) and future):
            prob = low = high = None
        elif _MEASURED.search(t) and not future and not _LIST_ITEM.search(t) and not re.search(
                r"\b(chance|odds|probability|credence)\b", t, re.I):
            prob = low = high = None
    if prob is None:
        num_text = None
        m = _VERBAL.search(t)
        strong_verbal = m is not None and re.match(
            r"(chances are|odds are|i'?d bet|i would bet)", m.group(1), re.I)
        near_future = m is not None and _FUTURE.search(t[max(0, m.start() - 40):m.end() + 60])
        if m and (strong_verbal or near_future or (horizon is not None and future)):
            verbal = m.group(1).lower()
            key = re.sub(r"^id ", "i'd ", verbal.replace("\u2019", "'"))
            prob = VERBAL_SCALE.get(key)
            if key in ("i expect", "i'd expect", "expects") and not re.search(
                    r"\bexpects? (?:\w+ ){0,4}(?:to|will|would)\b|\bexpects? that\b", t, re.I):
                if not horizon:
                    return None
        elif horizon is not None and re.search(r"\b(will|won'?t|'ll|going to)\b", t, re.I):
            if re.search(r"\b(?:i|we) (?:will|'ll)\b|\bnext (?:section|post|chapter|issue|day)\b|"
                         r"\b(?:should|must|ought)\b|\bwill be held\b", t, re.I):
                return None
        else:
            return None
    else:
        m = _VERBAL.search(t)
        verbal = m.group(1).lower() if m and not num_text else None
    return Forecast(probability=prob, low=low, high=high, verbal=verbal, horizon=horizon,
                    horizon_text=horizon_text, event=_event(doc, t), holder=_holder(doc, t))


class ForecastsStage(Stage):
    """sentences → forecasts: probabilities, verbal likelihoods and dated predictions."""

    name: ClassVar[str] = "forecasts"
    version: ClassVar[str] = "1"
    reads: ClassVar[tuple[str, ...]] = ("sentences", "documents")
    writes: ClassVar[tuple[str, ...]] = ("forecasts",)
    after: ClassVar[tuple[str, ...]] = ("segment",)

    def setup(self, con: duckdb.DuckDBPyConnection) -> None:
        from .features import load_nlp

        self.nlp = load_nlp()

    def process(self, con: duckdb.DuckDBPyConnection, docs: list[PendingDoc]) -> int:
        from ..db.store import bulk_insert

        if not hasattr(self, "nlp"):
            self.setup(con)
        ids = [d.id for d in docs]
        con.execute("DELETE FROM forecasts WHERE document_id IN (SELECT unnest(?))", [ids])
        rows = con.execute(
            "SELECT s.id, s.document_id, s.text, d.published_at FROM sentences s "
            "JOIN documents d ON d.id = s.document_id "
            "WHERE s.document_id IN (SELECT unnest(?)) ORDER BY s.document_id, s.position",
            [ids]).fetchall()
        # Only sentences the rules could accept go through the parser (a cheap pre-filter).
        hits = [(r, f) for r in rows if (f := parse_forecast(r[2], r[3])) is not None]
        out = []
        parsed = self.nlp.pipe([r[2] for r, _ in hits], batch_size=64)
        for (r, _), doc in zip(hits, parsed, strict=True):
            f = parse_forecast(r[2], r[3], doc)
            if f is None:
                continue
            out.append((r[0], r[1], f.probability, f.low, f.high, f.verbal, f.horizon,
                        f.horizon_text, f.event, f.holder))
        bulk_insert(con, "forecasts", ("sentence_id", "document_id", "probability", "low", "high",
                                       "verbal", "horizon", "horizon_text", "event", "holder"), out)
        return len(out)


__all__ = ["VERBAL_SCALE", "Forecast", "ForecastsStage", "parse_forecast", "resolve_horizon"]
