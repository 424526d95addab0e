"""The forecasts stage: sentences that put a probability on a future or unresolved event.

A learned detector decides; rules extract the fields. Every sentence with any word of the
broad candidate list (:data:`CANDIDATE`: modals, future markers, likelihood and probability
words, numbers with ``%``, years; the list the labelled sample was drawn with) and that is not a
question is scored by a logistic regression over the rule signals below
(:data:`FORECAST_FEATURES`) and the sentence's all-MiniLM-L6-v2 vector; the weights ship in
``models/forecasts-lr-2.json`` (``scripts/train_forecasts.py``, trained on the train and dev splits of
``eval/sentences.jsonl`` and ``eval/forecast_sentences.jsonl``). A sentence is stored when its probability reaches the threshold
chosen there by cross-validation. Then :func:`forecast_fields` extracts ``form`` (numeric,
hedged, unhedged), the probability (numbers; ``implied_probability`` from
:data:`VERBAL_SCALE` for words), the horizon, the event, the holder and the condition.

:func:`parse_forecast` is the earlier rule-only detector, kept as a baseline for the
evaluation and as the source of the rule signals. It calls a sentence a forecast when it has

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

Horizons: :func:`crux.pipeline.horizons.resolve_horizon` (the guideline's conventions, a table
there) fills the ``horizon`` field. The detector's ``horizon`` and ``rules_forecast`` signals
use :func:`_detector_horizon`, the earlier, narrower rule the shipped model was trained with,
frozen so that better horizon rules do not change what the detector sees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from .horizons import resolve_horizon, rules_digest
from .stage import PendingDoc, Stage

if TYPE_CHECKING:
    from collections.abc import Sequence

    import duckdb
    from spacy.tokens import Doc

# The probability a verbal phrase implies (``forecasts.implied_probability``). Anchors from
# Sherman Kent, "Words of Estimative Probability" (CIA, Studies in Intelligence 8(4), 1964):
# almost certain 93%, probable 75%, chances about even 50%, probably not 30%, almost
# certainly not 7%. The other phrases are placed between those anchors by crux (our choice,
# not Kent's), and an unhedged "will" is read as 0.95.
VERBAL_SCALE: dict[str, float] = {
    "almost certainly not": 0.07,
    "extremely unlikely": 0.05,
    "very unlikely": 0.1,
    "highly unlikely": 0.1,
    "i'd be surprised": 0.15,
    "i would be surprised": 0.15,
    "unlikely": 0.3,
    "probably not": 0.3,
    "doubt": 0.25,
    "possibly": 0.4,
    "might": 0.4,
    "may": 0.4,
    "could": 0.4,
    "perhaps": 0.4,
    "maybe": 0.4,
    "might well": 0.5,
    "may well": 0.5,
    "toss-up": 0.5,
    "coin flip": 0.5,
    "50/50": 0.5,
    "more likely than not": 0.6,
    "my guess is": 0.65,
    "i'd guess": 0.65,
    "i guess": 0.65,
    "i suspect": 0.65,
    "i think": 0.65,
    "i believe": 0.65,
    "probably": 0.75,
    "likely": 0.75,
    "probable": 0.75,
    "i expect": 0.75,
    "i'd expect": 0.75,
    "expects": 0.75,
    "expected": 0.75,
    "chances are": 0.75,
    "odds are": 0.75,
    "i'd bet": 0.75,
    "i would bet": 0.75,
    "most likely": 0.8,
    "very likely": 0.85,
    "highly likely": 0.9,
    "almost certainly": 0.93,
    "almost certain": 0.93,
    "near certain": 0.93,
    "virtually certain": 0.97,
    "certainly": 0.97,
    "will": 0.95,
}
_VERBAL = re.compile(
    r"\b(almost certainly not|very unlikely|highly unlikely|extremely unlikely|i'?d be surprised|"
    r"i would be surprised|more likely than not|very likely|highly likely|most likely|"
    r"almost certainly|almost certain|virtually certain|near certain|probably not|chances are|"
    r"odds are|i'?d bet|i would bet|i'?d expect|i (?:also |still |now |fully |do )?expect|"
    r"my guess is|i suspect|i predict|predicts|expects|toss-up|coin flip|unlikely|likely|"
    r"probably|possibly|doubt)\b",
    re.I,
)

_NUM = r"(\d+(?:\.\d+)?)"
_PCT = rf"{_NUM}\s*(?:%|percent\b|per cent\b)"
_RANGE = re.compile(rf"(?:between\s+)?{_NUM}\s*(?:%|percent)?\s*(?:-|–|—|to|and)\s*{_PCT}", re.I)
_PERCENT = re.compile(_PCT, re.I)
_ONE_IN = re.compile(
    r"\b(\d+|one|a)\s+(?:in|out of)\s+(\d+|two|three|four|five|six|ten|a hundred)\b", re.I
)
_ODDS = re.compile(
    r"\b(\d+(?:\.\d+)?)\s*(?::|to)\s*(\d+(?:\.\d+)?)\s*(?:odds\b|(against|on|in favou?r)\b)|"
    r"\bodds (?:are|of) (\d+(?:\.\d+)?)\s*(?::|to)\s*(\d+(?:\.\d+)?)(\s+against)?",
    re.I,
)
_PVAL = re.compile(
    r"\b(?:p|p\([^)]{0,40}\)|probability|credence|chance)\s*(?:=|of|is|at|≈|~)\s*"
    r"(0?\.\d+|1\.0|0|1)\b(?!\s*%)",
    re.I,
)
_FIFTY = re.compile(r"\b50/50\b|\bfifty-fifty\b|\btoss-up\b", re.I)
_CUE = re.compile(
    r"\b(chances?|probabilit(?:y|ies)|likelihood|odds|credence|metaculus|manifold|polymarket|"
    r"prediction markets?|markets? (?:puts?|gives?)|put(?:s|ting)? (?:it|this|that|the \w+|\w+) at|"
    r"give(?:s)? (?:it|this|that|\w+) (?:a |an )?\d|i'?d (?:say|put|give)|p\([^)]*\)|p\s*=)",
    re.I,
)
# Weaker cues: enough only together with a future marker.
_WEAK_CUE = re.compile(
    r"\b(confiden(?:t|ce)|sure|certain|likely|unlikely|expect(?:s|ed)?|predict|"
    r"forecasts?|bet|risk of)\b",
    re.I,
)
# A percentage followed by these words is a share or a change, not a probability.
_NOT_PROB_AFTER = re.compile(
    r"\s*(?:of\b|higher|lower|more|less|fewer|increase|decrease|reduction|"
    r"cheaper|faster|slower|larger|smaller|growth|accura|similar|plan\b|"
    r"predictions|of the)",
    re.I,
)
_LIST_ITEM = re.compile(r":\s*\d{1,3}\s*%(?:\s+\d+)?\.?$")
# Contexts in which a percentage measures something that already happened or is a setting.
_MEASURED = re.compile(
    r"\b(respondents|surveyed|survey (?:found|showed)|of (?:the )?(?:sample|participants|patients|"
    r"people|users|cases|voters|adults|population|students)|accura(?:te|cy)|learning rate|"
    r"dropout|p-value|turnout|fee|interest rate of|grew|fell|rose|dropped|increased|decreased|"
    r"declined|was|were|had been|retains?|base rate|attack rate|positive rate|confidence "
    r"interval|prediction interval|discount)\b",
    re.I,
)
_FUTURE = re.compile(
    r"\b(will|won'?t|'ll|going to|gonna|shall|(?:is|are|be|seems?|looks?|'re|'s) (?:very |highly |quite |"
    r"fairly |pretty |not |more |less )*(?:likely|unlikely) to|expects? (?:\w+ )?to|by (?:the end "
    r"of )?(?:19|20)\d\d|in the (?:next|coming) |next (?:year|decade|month|week|century)|"
    r"eventually|soon|someday|in the future|future|ever)\b",
    re.I,
)
_PAST_ONLY = re.compile(r"\b(was|were|had|did|happened|turned out)\b", re.I)
_HOLDER_VERBS = frozenset(
    (
        "put",
        "give",
        "expect",
        "predict",
        "estimate",
        "forecast",
        "think",
        "believe",
        "say",
        "bet",
        "assign",
        "project",
        "agree",
        "claim",
        "argue",
        "reckon",
        "price",
        "echo",
    )
)
_SELF = frozenset(("i", "we", "me", "us", "you", "one", "it", "this", "that", "there", "they"))

_NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "fifty": 50,
    "a hundred": 100,
    "hundred": 100,
    "a few": 3,
    "couple of": 2,
    "a couple of": 2,
}
_UNIT = r"(years?|months?|weeks?|days?|decades?|centur(?:y|ies))"
_QTY = r"(\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|fifty|a hundred|hundred)"
_REL = re.compile(
    rf"\b(?:in|within|over) (?:the )?(?:next |coming )?{_QTY} {_UNIT}|"
    rf"\b{_QTY} {_UNIT} (?:from now|out|hence)|\bin the next {_UNIT}",
    re.I,
)
_YEAR = re.compile(
    r"\b(by|before|in|until|through|around|circa|till)\s+(?:the end of\s+|mid-?|"
    r"early\s+|late\s+)?((?:19|20|21)\d\d)\b",
    re.I,
)
_NAMED = re.compile(
    r"\b(?:by |before |until )?(?:the end of )?(this|next) (year|decade|century|month)\b|"
    r"\bby the end of the (year|decade|century)\b|\bthis (?:coming )?(year|decade)\b",
    re.I,
)


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
    form: str | None = None
    implied_probability: float | None = None
    condition: str | None = None


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


def _detector_horizon(
    text: str, published: date | datetime | None
) -> tuple[date | None, str | None]:
    """The detector's horizon signal: the first future time expression (bare years, "in N
    years", "next year"...). Frozen: ``forecasts-lr-2`` was trained on it; the ``horizon``
    field comes from :func:`crux.pipeline.horizons.resolve_horizon`."""
    pub = published.date() if isinstance(published, datetime) else published
    for ym in _YEAR.finditer(text):
        year = int(ym.group(2))
        if pub and year < pub.year:
            continue
        prep = ym.group(1).lower()
        written = ym.group(0)
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
        m = re.match(
            r"\s*((?:[A-Z][\w'-]+\s?){1,3}|(?:the )?(?:median |average )?(?:respondents?|"
            r"experts?|forecasters?|markets?|prediction markets|survey)\b)\s+"
            r"(?:puts?|gives?|expects?|predicts?|estimates?|thinks?|forecasts?|bets?)\b",
            text,
            re.I,
        )
        return m.group(1).strip() if m and m.group(1).strip().lower() not in _SELF else None
    for tok in doc:
        if tok.lemma_.lower() in _HOLDER_VERBS and tok.pos_ in ("VERB", "AUX"):
            for child in tok.children:
                if child.dep_ in ("nsubj", "nsubjpass") and child.lower_ not in _SELF:
                    span = doc[child.left_edge.i : child.right_edge.i + 1].text
                    if span.lower() in _SELF or not any(c.isalpha() for c in span):
                        continue
                    if child.pos_ in ("PROPN", "NOUN") or child.ent_type_:
                        return span
    return None


_LEAD = re.compile(
    r"^\s*(?:(?:and|but|so|also|still|overall|however|honestly|personally),?\s+)*(?:i|we) "
    r"(?:(?:really|still|also|now|do|would|'d) )?(?:think|believe|expect|suspect|guess|predict|"
    r"bet|reckon|'d bet|would bet|'d say|would say|'d put it at [^ ]+ that|give [^ ]+ odds that)"
    r"(?: that)?\s+|^\s*(?:chances|odds) are(?: that)?\s+|^\s*my guess is(?: that)?\s+",
    re.I,
)


def _event(doc: Doc | None, text: str) -> str:
    """The forecast clause: the that-clause or of-phrase after the probability, else the sentence."""
    if doc is not None:
        for tok in doc:
            if tok.lower_ in (
                "chance",
                "chances",
                "probability",
                "odds",
                "likelihood",
                "risk",
                "credence",
            ):
                for child in tok.children:
                    if child.dep_ in ("acl", "ccomp", "relcl") or (
                        child.dep_ == "prep" and child.lower_ in ("of", "that", "on", "for")
                    ):
                        span = doc[child.left_edge.i : child.right_edge.i + 1].text
                        span = re.sub(r"^(of|that|on|for)\s+", "", span)
                        if len(span.split()) >= 2:
                            return span[:300]
    out = _LEAD.sub("", text).strip().rstrip(".!;:")
    return out[:300]


def parse_forecast(
    text: str, published: date | datetime | None = None, doc: Doc | None = None
) -> Forecast | None:
    """A :class:`Forecast` when ``text`` states a probability about a future or open event."""
    t = " ".join(text.split()).replace("\u2019", "'")
    pub = published.date() if isinstance(published, datetime) else published
    f = _rules(t, pub, doc, _detector_horizon(t, pub), _numeric(t))
    if f is not None:  # the decision on the detector's signal, the field by the horizon rules
        f.horizon, f.horizon_text = resolve_horizon(t, pub)
    return f


def _rules(
    t: str,
    pub: date | None,
    doc: Doc | None,
    horizon_found: tuple[date | None, str | None],
    numeric: tuple[float | None, float | None, float | None, str | None],
) -> Forecast | None:
    """:func:`parse_forecast` on normalised text, its horizon and number already found."""
    if len(t) < 8 or t.rstrip(")\"'”’ ").endswith("?"):
        return None
    horizon, horizon_text = horizon_found
    future = bool(_FUTURE.search(t)) or horizon is not None
    prob, low, high, num_text = numeric
    verbal = None
    if prob is not None:
        strong = _CUE.search(t) or _LIST_ITEM.search(t)
        if not strong and not (_WEAK_CUE.search(t) and future):
            prob = low = high = None
        elif (
            _MEASURED.search(t)
            and not future
            and not _LIST_ITEM.search(t)
            and not re.search(r"\b(chance|odds|probability|credence)\b", t, re.I)
        ):
            prob = low = high = None
    if prob is None:
        num_text = None
        m = _VERBAL.search(t)
        strong_verbal = m is not None and re.match(
            r"(chances are|odds are|i'?d bet|i would bet)", m.group(1), re.I
        )
        near_future = m is not None and _FUTURE.search(t[max(0, m.start() - 40) : m.end() + 60])
        if m and (strong_verbal or near_future or (horizon is not None and future)):
            verbal = m.group(1).lower()
            key = re.sub(r"^id ", "i'd ", verbal.replace("\u2019", "'"))
            prob = VERBAL_SCALE.get(key)
            if key in ("i expect", "i'd expect", "expects") and not re.search(
                r"\bexpects? (?:\w+ ){0,4}(?:to|will|would)\b|\bexpects? that\b", t, re.I
            ):
                if not horizon:
                    return None
        elif horizon is not None and re.search(r"\b(will|won'?t|'ll|going to)\b", t, re.I):
            if re.search(
                r"\b(?:i|we) (?:will|'ll)\b|\bnext (?:section|post|chapter|issue|day)\b|"
                r"\b(?:should|must|ought)\b|\bwill be held\b",
                t,
                re.I,
            ):
                return None
        else:
            return None
    else:
        m = _VERBAL.search(t)
        verbal = m.group(1).lower() if m and not num_text else None
    return Forecast(
        probability=prob,
        low=low,
        high=high,
        verbal=verbal,
        horizon=horizon,
        horizon_text=horizon_text,
        event=_event(doc, t),
        holder=_holder(doc, t),
    )


# ---- the learned detector ------------------------------------------------------------------

MODEL_PATH = Path(__file__).parent / "models" / "forecasts-lr-2.json"
# A sentence without any of these words is never scored (the list the labelled sample of
# ``eval/sentences.jsonl`` was drawn with: modals, future and likelihood words, %, years).
CANDIDATE = re.compile(
    r"\b(will|won'?t|would|wouldn'?t|could|might|may|shall|should|must|can|cannot|can'?t|"
    r"going to|gonna|likely|unlikely|likelihood|probabl[ey]|probabilit(?:y|ies)|possibl[ey]|"
    r"perhaps|maybe|chances?|odds|expect\w*|predict\w*|forecast\w*|guess\w*|suspect\w*|bet|bets|"
    r"betting|doubt\w*|certain(?:ly)?|surely|confident|confidence|credences?|estimate\w*|"
    r"anticipate\w*|soon|eventually|future|next|someday|upcoming|prospects?|plausibl[ey]|"
    r"risk\w*|hope\w*|fear\w*|imagine|think|believe|seems?|suppose|assume|"
    r"(?:19|20|21)\d\d|decades?|years?|months?)\b|\d\s*%|\bpercent\b|'ll\b",
    re.I,
)
# Verbal likelihood (form "hedged"): the list and its neighbours.
_HEDGED = re.compile(
    r"\b(likely|unlikely|likelihood|probabl[ey]|possibl[ey]|perhaps|maybe|chances? (?:are|is)|"
    r"odds are|i (?:\w+ )?(?:expect|guess|suspect|bet|doubt|think|believe|predict|reckon|imagine)|"
    r"i'?d (?:guess|bet|expect|say|be surprised)|i would (?:guess|bet|expect|be surprised)|"
    r"my (?:guess|expectation|prediction|bet) is|may well|might well|could well|may|might|could|"
    r"expects?|expected|plausibl[ey]|(?:almost |nearly |virtually )?certain(?:ly)?|surely|"
    r"confident|doubt(?:ful)?|toss-up|coin flip|50/50|would probably|in all likelihood|"
    r"seems?|appears?)\b",
    re.I,
)
_PLAN = re.compile(
    r"\b(?:i|we)(?: (?:will|'ll|shall|am going to|are going to|plan to|intend to))\b|"
    r"\bnext (?:post|section|chapter|week's post|part|installment|issue)\b|"
    r"\bin (?:a|the) (?:future|later|follow-up|next) (?:post|section|part)\b",
    re.I,
)
_GENERIC = re.compile(
    r"\b(usually|often|always|never|tends? to|typically|generally|whenever|"
    r"every time|in general)\b",
    re.I,
)
_CONDITION = re.compile(
    r"^\s*(?:but |and |so |also |still |even )?(if|unless|assuming|provided(?: that)?|"
    r"conditional on|in (?:the )?case|once|when)\b\s*(?P<c>[^,;:]{3,200}?)\s*(?:,|\bthen\b)|"
    r"[,;]?\s+\b(if|unless|assuming|provided that|conditional on)\s+(?P<c2>[^,;:.]{3,200})",
    re.I,
)
_YEARISH = re.compile(r"\b(?:19|20|21)\d\d\b")
_PAST_MARK = re.compile(r"\b(ago|last (?:year|week|month)|yesterday|in (?:19|20)\d\d,)\b", re.I)

FORECAST_FEATURES: tuple[str, ...] = (
    "rules_forecast",
    "numeric",
    "strong_cue",
    "weak_cue",
    "verbal",
    "hedged",
    "future",
    "horizon",
    "year",
    "will",
    "would",
    "might_could_may",
    "plan",
    "measured",
    "past_only",
    "past_mark",
    "generic",
    "condition",
    "first_person",
    "second_person",
    "in_quote",
    "n_words",
)


def forecast_features(
    text: str,
    published: date | datetime | None,
    in_quote: bool = False,
) -> list[float]:
    """The rule signals of one sentence, in :data:`FORECAST_FEATURES` order (no parsing)."""
    import math

    t = " ".join(text.split()).replace("\u2019", "'")
    pub = published.date() if isinstance(published, datetime) else published
    found = _detector_horizon(t, pub)
    numeric = _numeric(t)
    horizon, prob = found[0], numeric[0]
    low = t.lower()
    words = low.split()
    future = bool(_FUTURE.search(t))
    feats = [
        _rules(t, pub, None, found, numeric) is not None,
        prob is not None,
        bool(_CUE.search(t)),
        bool(_WEAK_CUE.search(t)),
        bool(_VERBAL.search(t)),
        bool(_HEDGED.search(t)),
        future,
        horizon is not None,
        bool(_YEARISH.search(t)),
        bool(re.search(r"\b(will|won't|'ll|going to|gonna)\b", low)),
        bool(re.search(r"\b(would|wouldn't|'d)\b", low)),
        bool(re.search(r"\b(might|could|may)\b", low)),
        bool(_PLAN.search(t)),
        bool(_MEASURED.search(t)),
        bool(_PAST_ONLY.search(t)) and not future,
        bool(_PAST_MARK.search(t)),
        bool(_GENERIC.search(t)),
        bool(_CONDITION.search(t)),
        any(w in ("i", "i'd", "i'm", "i've", "we", "we'd", "my", "our") for w in words),
        any(w in ("you", "you'll", "you'd", "your") for w in words),
        bool(in_quote),
        math.log1p(len(words)) / 4.0,
    ]
    return [float(f) for f in feats]


def is_candidate(text: str) -> bool:
    """Whether a sentence is scored at all: a word of :data:`CANDIDATE`, not a question."""
    t = text.strip()
    return len(t) >= 8 and not t.rstrip(")\"'”’ ").endswith("?") and bool(CANDIDATE.search(t))


def _condition(text: str) -> str | None:
    m = _CONDITION.search(text)
    if not m:
        return None
    c = (m.group("c") or m.group("c2") or "").strip()
    if (
        m.group(1)
        and m.group(1).lower() in ("once", "when")
        and not re.search(r"\b(will|would|'ll|likely|probably)\b", text[m.end() :], re.I)
    ):
        return None
    return c[:200] or None


def forecast_fields(
    text: str, published: date | datetime | None = None, doc: Doc | None = None
) -> Forecast:
    """The fields of a sentence the detector called a forecast (rules; they never decide).

    ``form``: ``numeric`` when a probability is stated as a number (percentages, odds, "1 in
    5", p = 0.3, ranges), else ``hedged`` when a verbal likelihood word is there, else
    ``unhedged``. ``implied_probability``: the number, or the phrase's value in
    :data:`VERBAL_SCALE` (an unhedged forecast: ``will``)."""
    t = " ".join(text.split()).replace("\u2019", "'")
    pub = published.date() if isinstance(published, datetime) else published
    horizon, horizon_text = resolve_horizon(t, pub)
    prob, low, high, num_text = _numeric(t)
    f = Forecast(
        horizon=horizon,
        horizon_text=horizon_text,
        event=_event(doc, t),
        holder=_holder(doc, t),
        condition=_condition(t),
    )
    m = _VERBAL.search(t)
    if prob is not None:
        f.form, f.probability, f.low, f.high = "numeric", prob, low, high
        f.implied_probability = prob
        f.verbal = m.group(1).lower() if m else None
        return f
    h = _HEDGED.search(t)
    if h or m:
        f.form = "hedged"
        phrase = (m.group(1) if m else h.group(1)).lower()  # type: ignore[union-attr]
        f.verbal = phrase
        key = re.sub(r"^id ", "i'd ", phrase)
        key = re.sub(r"^i (?:\w+ )?(expect|guess|suspect|think|believe)$", r"i \1", key)
        f.implied_probability = VERBAL_SCALE.get(key, VERBAL_SCALE.get(key.split()[-1]))
        if f.implied_probability is None:
            f.implied_probability = 0.65
        if (
            re.search(r"\bnot\b|n't\b", t[h.start() : h.end() + 25] if h else "", re.I)
            and f.implied_probability > 0.5
            and key not in ("probably not", "unlikely")
        ):
            f.implied_probability = round(1 - f.implied_probability, 2)
        return f
    f.form, f.implied_probability = "unhedged", VERBAL_SCALE["will"]
    if re.search(r"\b(won't|will not|never)\b", t, re.I):
        f.implied_probability = round(1 - VERBAL_SCALE["will"], 2)
    return f


class ForecastsStage(Stage):
    """sentences → forecasts: a learned detector decides, rules extract the fields."""

    name: ClassVar[str] = "forecasts"
    # a retrained model gets a new name; the horizon rules' digest redoes the stage when they change
    version: ClassVar[str] = f"3:forecasts-lr-2+h{rules_digest()}"
    reads: ClassVar[tuple[str, ...]] = ("sentences", "documents", "embeddings")
    writes: ClassVar[tuple[str, ...]] = ("forecasts",)
    after: ClassVar[tuple[str, ...]] = ("segment",)

    def __init__(self, model: Any = None) -> None:
        from . import embed

        self.version = type(self).version + embed.classifier_suffix()  # type: ignore[misc]  # see claims
        self._model = model

    def setup(self, con: duckdb.DuckDBPyConnection) -> None:
        from .claims import ClaimModel
        from .features import load_nlp

        if self._model is None:
            self._model = ClaimModel.load(
                MODEL_PATH, what="forecast detector", script="scripts/train_forecasts.py"
            )
        self.nlp = load_nlp()

    @property
    def model(self) -> Any:
        return self._model

    def score(
        self,
        texts: Sequence[str],
        published: Sequence[Any],
        in_quote: Sequence[bool],
        vectors: Sequence[Any] | None = None,
    ) -> list[float]:
        """The detector's probability per sentence (0.0 for non-candidates)."""
        import numpy as np

        from .features import encode

        idx = [i for i, t in enumerate(texts) if is_candidate(t)]
        out = [0.0] * len(texts)
        if not idx:
            return out
        have = {i: vectors[i] for i in idx if vectors is not None and vectors[i] is not None}
        todo = [i for i in idx if i not in have]
        if todo:
            for i, v in zip(todo, encode([texts[i].strip() for i in todo]), strict=True):
                have[i] = v
        hand = np.asarray(
            [forecast_features(texts[i], published[i], in_quote[i]) for i in idx], dtype=np.float64
        )
        emb = np.asarray([have[i] for i in idx], dtype=np.float64)
        probs = self._model.probabilities(np.hstack([hand, emb]))
        for i, p in zip(idx, probs, strict=True):
            out[i] = float(p)
        return out

    def process(self, con: duckdb.DuckDBPyConnection, docs: list[PendingDoc]) -> int:
        from ..db.store import bulk_insert
        from ..htmltext import content_hash
        from . import embed

        if not hasattr(self, "nlp"):
            self.setup(con)
        ids = [d.id for d in docs]
        con.execute("DELETE FROM forecasts WHERE document_id IN (SELECT unnest(?))", [ids])
        rows = con.execute(
            "SELECT s.id, s.document_id, s.text, d.published_at, s.in_quote FROM sentences s "
            "JOIN documents d ON d.id = s.document_id "
            "WHERE s.document_id IN (SELECT unnest(?)) ORDER BY s.document_id, s.position",
            [ids],
        ).fetchall()
        cand = [r for r in rows if is_candidate(r[2])]
        if not cand:
            return 0
        # The claims stage stored the vectors of the claims (same encoder): reuse them.
        stored: dict[str, Any] = {}
        if embed.shares_classifier_encoder():
            for sid, h, vec in con.execute(
                "SELECT item_id, content_hash, vector FROM embeddings WHERE item_kind = 'claim' "
                "AND model = ? AND item_id IN (SELECT unnest(?))",
                [embed.model_name(), [r[0] for r in cand]],
            ).fetchall():
                stored[sid] = (h, vec)
        vecs = [
            stored[r[0]][1]
            if r[0] in stored and stored[r[0]][0] == content_hash(r[2]) and r[2] == r[2].strip()
            else None
            for r in cand
        ]
        probs = self.score(
            [r[2] for r in cand], [r[3] for r in cand], [bool(r[4]) for r in cand], vecs
        )
        thr = self._model.threshold
        hits = [(r, p) for r, p in zip(cand, probs, strict=True) if p >= thr]
        out = []
        parsed = self.nlp.pipe([r[2] for r, _ in hits], batch_size=64)
        for (r, p), doc in zip(hits, parsed, strict=True):
            f = forecast_fields(r[2], r[3], doc)
            out.append(
                (
                    r[0],
                    r[1],
                    f.probability,
                    f.low,
                    f.high,
                    f.verbal,
                    f.horizon,
                    f.horizon_text,
                    f.event,
                    f.holder,
                    f.form,
                    f.implied_probability,
                    f.condition,
                    round(p, 6),
                    self._model.name,
                )
            )
        bulk_insert(
            con,
            "forecasts",
            (
                "sentence_id",
                "document_id",
                "probability",
                "low",
                "high",
                "verbal",
                "horizon",
                "horizon_text",
                "event",
                "holder",
                "form",
                "implied_probability",
                "condition",
                "score",
                "model",
            ),
            out,
        )
        return len(out)


__all__ = [
    "CANDIDATE",
    "FORECAST_FEATURES",
    "VERBAL_SCALE",
    "Forecast",
    "ForecastsStage",
    "forecast_features",
    "forecast_fields",
    "is_candidate",
    "parse_forecast",
    "resolve_horizon",
]
