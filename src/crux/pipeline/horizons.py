"""Forecast horizons: the date by which a forecast's event is to resolve (a rule, not a model).

:func:`resolve_horizon` finds the time expressions of a sentence and resolves the best one
against the document's publication date, following the labelling guideline
(``eval/README.md``, "horizon"). Every expression names a *period* (a year, a month, a day,
a season, a quarter, a decade) or a *span* from the publication date; the words around it pick
the day of the period (:data:`CONVENTIONS`):

========================================  ==========================================
written                                   horizon
========================================  ==========================================
a bare year "by 2030", "in 2030"          31 December 2030
"before 2030", "before June"              the day before the period starts
"mid-2027", "by mid-May"                  30 June 2027, 15 May
"early/late 2027", "late April"           the period's end (early/late narrow nothing)
"by the start of 2027"                    1 January 2027
"the 2030s"                               31 December 2039
"in June", "in late April" (no year)      its end, this year's or next year's, whichever is
                                          nearer the post (none when that one is past)
"by February", "until May", "next June"   the next one to come
"30 June", "March 16th", "28-Feb-2021"    that day
"the week of March 16th"                  six days later (the week's end)
"this summer", "in early summer"          31 August (spring 31 May, autumn/fall 30 November,
                                          winter the end of February after its December)
"Q3 2027", "the second half of 2027"      30 September 2027, 31 December 2027
"between August and December",            the end of the later one
"2025 to 2035", "7 May to 1 September"
"in 5 years", "within a decade",          the publication date plus the span (a range "1-2
"the next 12 months", "in a few decades"  weeks" takes its upper end; a generation is 25 years)
"this year", "next year",                 31 December of that year (decade: 2029 for the
"by the end of the decade"                2020s; century: 2100)
========================================  ==========================================

Dates on or before the publication date are not horizons (a past year, "a 2019 study"), nor are
expressions after "since", "as of", "after", "last" or a lone "from". When a sentence has several,
one with a written year wins over a calendar name without one, which wins over a span from
now, which wins over "this/next year"; among equals the first in the sentence.

These rules fill the ``horizon`` field only; the forecast detector's signals keep the earlier
rule it was trained with (``forecasts._detector_horizon``). :func:`rules_digest` is part of the
forecasts stage's version, so changed rules redo the stage.
"""

from __future__ import annotations

import calendar
import hashlib
import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

# ---- conventions -------------------------------------------------------------------------

# (first month, last month) of each season, northern hemisphere; winter runs into next year.
SEASONS: dict[str, tuple[int, int]] = {
    "spring": (3, 5),
    "summer": (6, 8),
    "autumn": (9, 11),
    "fall": (9, 11),
    "winter": (12, 2),
}
MONTHS: dict[str, int] = {
    name.lower(): i
    for i in range(1, 13)
    for name in (calendar.month_name[i], calendar.month_abbr[i])
} | {"sept": 9}
# Quantities written as words ("in a few decades", "half a year"); a range takes its upper end.
NUMBER_WORDS: dict[str, float] = {
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
    "eighteen": 18,
    "twenty": 20,
    "thirty": 30,
    "fifty": 50,
    "hundred": 100,
    "a hundred": 100,
    "a few": 3,
    "few": 3,
    "a couple of": 2,
    "a couple": 2,
    "couple of": 2,
    "a dozen": 12,
    "dozen": 12,
    "half a": 0.5,
    "half an": 0.5,
}
# Span units in (years, months, days).
UNITS: dict[str, tuple[int, int, int]] = {
    "day": (0, 0, 1),
    "week": (0, 0, 7),
    "month": (0, 1, 0),
    "year": (1, 0, 0),
    "decade": (10, 0, 0),
    "generation": (25, 0, 0),
    "century": (100, 0, 0),
}
CONVENTIONS: dict[str, str] = {
    "year": "31 December",
    "before": "the day before the period starts",
    "mid year": "30 June",
    "mid month": "the 15th",
    "mid other": "the period's middle day",
    "early / late": "the period's end",
    "start of": "the period's first day",
    "end of": "the period's last day",
    "week of": "the day plus six days",
    "no year": "of those ending this year or next, the nearest the post (none if past); after by, before, until, next: the next to come",
    "range": "the end of its later part",
    "span": "the publication date plus the span; fractional months are 30 days",
    "generation": "25 years",
    "this/next year, decade, century, month": "its last day",
    "next SEASON / MONTH": "the first one starting after the post",
}

# ---- the expressions ---------------------------------------------------------------------

_YEAR = r"(?:19|20|21)\d\d"
_MONTH = r"(?:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_SEASON = r"(?:spring|summer|autumn|fall|winter)"
_ORD = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": 4}
# The words before an expression: a preposition, then "at least" / "about", then a modifier.
_PREFIX = (
    r"(?:\b(?P<prep>on or before|as of|(?:update[ds]?|added|edit(?:ed)?|retrieved|posted|"
    r"published|written|accessed)(?: on)?:?|by|before|in|until|till|through|throughout|around|circa|during|for|"
    r"within|over|on|at|from|between|since|after|to|and|of|last|this|next|coming|the)\s+"
    r"(?:the\s+)?(?:(?:at (?:the )?(?:least|latest|earliest)|about|around|approximately|roughly|"
    r"circa|only|just|sometime in|some time in)\s+)*)?"
    r"(?P<mod>(?:the )?(?:very )?(?:end|close|start|beginning|middle|week) of (?:the )?|"
    r"mid-?\s?|early[- ]|late[- ])?"
)
# A period with a written year, or a calendar name (month, day, season, quarter) without one.
_CALENDAR = re.compile(
    _PREFIX
    + r"(?:"
    + rf"\b(?P<iso>{_YEAR})-(?P<iso_m>[01]\d)-(?P<iso_d>[0-3]\d)\b|"
    + rf"\b(?P<d1>{_DAY})(?:[ -]|\s+of\s+)(?P<m1>{_MONTH})(?:,?[ -](?P<y1>{_YEAR}))?\b|"
    + rf"\b(?P<m2>{_MONTH})\s+(?P<d2>{_DAY})\b(?!\s*(?:%|\d))(?:,?\s+(?P<y2>{_YEAR}))?\b|"
    + rf"\b(?P<m3>{_MONTH})(?:,?\s+(?:of\s+)?(?P<y3>{_YEAR}))?\b|"
    + rf"\b(?P<season>{_SEASON})(?:\s+(?:of\s+)?(?P<y4>{_YEAR}))?\b|"
    + rf"\b(?P<q>Q[1-4])(?:\s+(?P<y5>{_YEAR}))?\b|"
    + r"\b(?P<qw>first|second|third|fourth|last) (?P<qh>quarter|half)"
    + rf" of (?:(?P<y6>{_YEAR})|(?P<qrel>this|next|the) year)\b|"
    + rf"\b(?P<h>H[12])\s+(?P<y7>{_YEAR})\b|"
    + r"\b(?P<decade>(?:19|20|21)\d0)'?s\b|"
    + rf"\b(?P<year>{_YEAR})\b(?!\s*%)"
    + r")",
    re.I,
)
# Two periods joined into a range: the horizon is the later one's.
_RANGE_JOIN = re.compile(r"\s*(?:-|–|—|to|through|until|till|and)\s*", re.I)
_QTY_WORDS = "|".join(re.escape(w) for w in sorted(NUMBER_WORDS, key=len, reverse=True))


def _qty_re(n: int) -> str:
    """A quantity ("12", "1.5", "3-5", "a few", "half a") as group ``qty{n}``."""
    return rf"(?P<qty{n}>\d+(?:\.\d+)?(?:\s*(?:-|–|to|or)\s*\d+(?:\.\d+)?)?|{_QTY_WORDS})"


def _unit_re(n: int) -> str:
    """A span unit as group ``unit{n}`` ("yrs", "months", "generations")."""
    return (
        rf"(?P<unit{n}>years?|yrs?|months?|mos?|weeks?|wks?|days?|decades?|centur(?:y|ies)|"
        r"generations?)\b"
    )


_SPAN = re.compile(
    # "in 5 years", "within the next decade", "over 2yrs", "for another dozen years"
    r"\b(?:in|within|over|during|for another|for the next|inside)\s+(?:the\s+)?"
    r"(?:(?:next|coming|following|about|around|roughly|approximately|only|just|another|"
    r"less than|under)\s+|~\s*)*"
    rf"{_qty_re(1)}\s*{_unit_re(1)}|"
    # "5 years from now", "1.5 months to go"
    rf"\b{_qty_re(2)}\s*{_unit_re(2)} (?:from now|out|hence|to go|away)\b|"
    # "the next 12 months", "the coming year" (without a quantity: years, months, decades only)
    rf"\bthe (?:next|coming) (?:{_qty_re(3)}\s*{_unit_re(3)}|(?P<unit4>year|month|decade|century)\b)|"
    # "in the next week"
    r"\b(?:in|within|over|during) the (?:next|coming) (?P<unit5>year|month|week|decade|century)\b",
    re.I,
)
_NAMED = re.compile(
    r"\b(?:(?:by|before|until|till|through) )?(?:the end of )?(?P<which>this|next) (?:coming )?"
    r"(?P<unit>year|decade|century|month)\b|"
    r"\b(?P<end_prep>by|before|until|till|through|at) the end of the (?P<unit2>year|decade|century)\b",
    re.I,
)
# Prepositions after which a period is not the horizon ("since 2025", "as of March").
_NOT_AHEAD = frozenset(("as of", "since", "after", "last", "from"))
# Prepositions that look ahead: a yearless date after them is the next one to come.
_AHEAD_PREPS = frozenset(("by", "before", "until", "till", "next", "coming"))
# Edit notes and citations: "Update 2020-03-19:", "Retrieved 11 April 2020".
_NOTE = re.compile(
    r"^(?:update[ds]?|added|edit(?:ed)?|retrieved|posted|published|written|accessed)\b"
)
# Prepositions before a time expression. A lone calendar name needs one of _CALENDAR_PREPS
# ("in June", not "June said"); a written year one of _YEAR_PREPS; a day or a year needs none.
_TIME_PREPS = frozenset(
    "by before in until till through throughout around circa during within between to and the".split()
)
_CALENDAR_PREPS = _TIME_PREPS | {"over", "on", "this", "next", "coming"}
_YEAR_PREPS = _TIME_PREPS | {"for"}


@dataclass(frozen=True)
class _Found:
    tier: int  # 0 a written year, 1 a calendar name, 2 a span from now, 3 this/next year
    start: int
    end: int
    horizon: date
    text: str
    prep: str = ""  # the preposition before it
    partner_only: bool = False  # a range's second part, no horizon alone ("and June", "-2020")


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _add(base: date, n: float, unit: str) -> date:
    """``base`` plus ``n`` units (a fraction of a month is 30 days: "1.5 months" is 45)."""
    years, months, days = UNITS[unit]
    total = n * (12 * years + months)
    if total != int(total):
        return base + timedelta(days=round(30 * total))
    total_i = base.month - 1 + int(total)
    year, month = base.year + total_i // 12, total_i % 12 + 1
    out = date(year, month, min(base.day, calendar.monthrange(year, month)[1]))
    return out + timedelta(days=round(days * n))


_UNIT_PREFIXES = (
    ("year", "year"),
    ("yr", "year"),
    ("month", "month"),
    ("mo", "month"),
    ("week", "week"),
    ("wk", "week"),
    ("day", "day"),
    ("decade", "decade"),
    ("centur", "century"),
    ("generation", "generation"),
)


def _unit(word: str) -> str:
    """The :data:`UNITS` key of a written unit ("yrs" → year, "centuries" → century)."""
    w = word.lower()
    for prefix, unit in _UNIT_PREFIXES:
        if w.startswith(prefix):
            return unit
    raise ValueError(word)


def _qty(text: str) -> float:
    parts = re.split(r"\s*(?:-|–|to|or)\s*", text.strip().lower())
    last = parts[-1]
    return float(NUMBER_WORDS[last]) if last in NUMBER_WORDS else float(last)


def _period(m: re.Match[str], year: int | None, pub: date | None) -> tuple[date, date] | None:
    """(first day, last day) of the period ``m`` names, in ``year`` when it has none written."""
    g = m.groupdict()
    if g["iso"]:
        d = date(int(g["iso"]), int(g["iso_m"]), int(g["iso_d"]))
        return d, d
    for dk, mk in (("d1", "m1"), ("d2", "m2")):
        if g[dk] and year is not None:
            day = int(re.sub(r"\D", "", g[dk]))
            month = MONTHS[g[mk].rstrip(".").lower()]
            d = date(year, month, min(day, calendar.monthrange(year, month)[1]))
            return d, d
    if g["m3"] and year is not None:
        month = MONTHS[g["m3"].rstrip(".").lower()]
        return date(year, month, 1), _month_end(year, month)
    if g["season"] and year is not None:
        first, last = SEASONS[g["season"].lower()]
        end_year = year + 1 if last < first else year
        return date(year, first, 1), _month_end(end_year, last)
    if (g["q"] or g["qw"] or g["h"]) and year is not None:
        if g["h"] or g["qh"] == "half":
            half = int(g["h"][1]) if g["h"] else min(_ORD[g["qw"].lower()], 2)
            return date(year, 6 * half - 5, 1), _month_end(year, 6 * half)
        q = int(g["q"][1]) if g["q"] else _ORD[g["qw"].lower()]
        return date(year, 3 * q - 2, 1), _month_end(year, 3 * q)
    if g["decade"]:
        y = int(g["decade"])
        return date(y, 1, 1), date(y + 9, 12, 31)
    if g["year"]:
        y = int(g["year"])
        return date(y, 1, 1), date(y, 12, 31)
    return None


def _written_year(m: re.Match[str], pub: date | None) -> int | None:
    g = m.groupdict()
    for k in ("y1", "y2", "y3", "y4", "y5", "y6", "y7"):
        if g[k]:
            return int(g[k])
    if g["qrel"] and pub is not None:
        return pub.year + (1 if g["qrel"].lower() == "next" else 0)
    return None


def _day_of(m: re.Match[str], first: date, last: date, prep: str) -> date:
    """The day of the period the words around it pick (:data:`CONVENTIONS`)."""
    mod = (m.group("mod") or "").lower().strip()
    if prep == "before" and not re.match(r"(?:the )?(?:very )?(?:end|close|middle)", mod):
        return first - timedelta(days=1)
    if re.match(r"(?:the )?(?:start|beginning) of", mod):
        return first
    if re.match(r"(?:the )?week of", mod):
        return first + timedelta(days=6)
    if mod.startswith("mid") or re.match(r"(?:the )?middle of", mod):
        if (first.month, first.day) == (1, 1) and last == date(first.year, 12, 31):
            return date(first.year, 6, 30)  # a year
        if first.year == last.year and first.month == last.month and first != last:
            return first.replace(day=15)
        return first + (last - first) // 2
    return last


def _calendar(text: str, pub: date | None) -> list[_Found]:
    """The periods of ``text`` that are horizons (not past, not after "since" and the like)."""
    out: list[_Found] = []
    matches = list(_CALENDAR.finditer(text))
    opens = [
        _opens_range(text, m, matches[i + 1] if i + 1 < len(matches) else None)
        for i, m in enumerate(matches)
    ]
    for i, m in enumerate(matches):
        g = m.groupdict()
        prep = (g["prep"] or "").lower()
        prep = "by" if prep == "on or before" else prep
        month = g["m1"] or g["m2"] or g["m3"]
        if (month and not month[0].isupper()) or (g["q"] and not g["q"][0].isupper()):
            continue  # "may", "march", "q3" as words; months and quarters are capitalised
        if (prep in _NOT_AHEAD and not (prep == "from" and opens[i])) or _NOTE.match(prep):
            continue
        closes = i > 0 and opens[i - 1] and not opens[i]  # the second part of a range
        has_day = bool(g["d1"] or g["d2"] or g["iso"])
        written = _written_year(m, pub)
        bare = not (has_day or written or g["decade"] or g["year"])
        preps = _YEAR_PREPS if g["year"] else _CALENDAR_PREPS
        needs_prep = (g["year"] or bare) and not g["mod"]
        if needs_prep and prep not in preps and not (opens[i] or closes):
            continue  # "2030 targets", "June said": a number or a name, not a date
        if g["season"] and not (prep or g["mod"]):
            continue
        if g["season"] and g["season"].lower() == "fall" and re.match(r"\s+of\b", text[m.end() :]):
            continue  # "the fall of Rome"
        found = _resolve_calendar(m, prep, written, pub)
        if found is None:
            continue
        partner_only = (
            prep == "and"
            or (prep == "to" and bare)
            or (closes and needs_prep and prep not in preps)
        )
        out.append(replace(found, partner_only=bool(partner_only)))
    return _ranges(text, out)


def _opens_range(text: str, m: re.Match[str], after: re.Match[str] | None) -> bool:
    """Whether the period ``m`` is a range's first part ("2025 to 2035", "August and December")."""
    if after is None:
        return False
    gap = text[m.end() : after.start()]
    if (after.group("prep") or "").lower() in ("to", "and", "through", "until", "till"):
        return gap.strip() == ""
    return bool(_RANGE_JOIN.fullmatch(gap))


def _resolve_calendar(
    m: re.Match[str], prep: str, written: int | None, pub: date | None
) -> _Found | None:
    g = m.groupdict()
    text = m.group(0)
    if written is not None or g["iso"] or g["decade"] or g["year"]:
        span = _period(m, written, pub)
        if span is None:
            return None
        horizon = _day_of(m, *span, prep)
        if pub is not None and horizon <= pub:
            return None  # in the past or the post's own day: not a horizon
        return _Found(0, m.start(), m.end(), horizon, text, prep)
    if pub is None:
        return None
    # No year written: of the occurrences ending in the post's year or the next, the nearest
    # to the post ("in November" in March, "in February" in November: the next year's; "on
    # Feb. 20th" in April: this year's, past, so none); after a preposition looking ahead ("by
    # February", "until May", "next June") the first one still to come.
    options = []
    for year in (pub.year - 1, pub.year, pub.year + 1):
        span = _period(m, year, pub)
        if span is None:
            return None
        if span[1].year < pub.year or (prep == "next" and span[0] <= pub):
            continue
        options.append(_day_of(m, *span, prep))
    ahead = [h for h in options if h > pub]
    if prep in _AHEAD_PREPS:
        return _Found(1, m.start(), m.end(), min(ahead), text, prep) if ahead else None
    horizon = min(options, key=lambda h: (abs((h - pub).days), h))
    if horizon <= pub:
        return None
    return _Found(1, m.start(), m.end(), horizon, text, prep)


def _ranges(text: str, found: list[_Found]) -> list[_Found]:
    """Join "X to Y" / "between X and Y" into one expression with Y's horizon."""
    out: list[_Found] = []
    for f in found:
        prev = out[-1] if out else None
        if prev is not None:
            gap = text[prev.end : f.start]
            joined = bool(_RANGE_JOIN.fullmatch(gap)) or (
                gap.strip() == "" and f.prep in ("to", "and", "through", "until", "till")
            )
            with_and = "and" in (gap.strip().lower(), f.prep)
            if joined and (not with_and or prev.prep == "between"):
                out[-1] = _Found(
                    min(prev.tier, f.tier),
                    prev.start,
                    f.end,
                    max(prev.horizon, f.horizon),
                    text[prev.start : f.end],
                    prev.prep,
                )
                continue
        out.append(f)
    return [f for f in out if not f.partner_only]


def _spans(text: str, pub: date | None) -> list[_Found]:
    out: list[_Found] = []
    if pub is None:
        return out
    for m in _SPAN.finditer(text):
        g = m.groupdict()
        unit = next(g[f"unit{i}"] for i in range(1, 6) if g[f"unit{i}"])
        qty = next((g[f"qty{i}"] for i in range(1, 4) if g[f"qty{i}"]), None)
        n = _qty(qty) if qty else 1.0
        out.append(_Found(2, m.start(), m.end(), _add(pub, n, _unit(unit)), m.group(0)))
    return out


def _named(text: str, pub: date | None) -> list[_Found]:
    out: list[_Found] = []
    for m in _NAMED.finditer(text):
        if pub is None:
            continue
        step = 1 if (m.group("which") or "").lower() == "next" else 0
        unit = (m.group("unit") or m.group("unit2")).lower()
        if unit == "year":
            h = date(pub.year + step, 12, 31)
        elif unit == "decade":
            h = date(pub.year // 10 * 10 + 9 + 10 * step, 12, 31)
        elif unit == "century":
            h = date(pub.year // 100 * 100 + 100 * (1 + step), 12, 31)
        else:
            month = pub.month - 1 + step
            h = _month_end(pub.year + month // 12, month % 12 + 1)
        out.append(_Found(3, m.start(), m.end(), h, m.group(0)))
    return out


def resolve_horizon(text: str, published: date | datetime | None) -> tuple[date | None, str | None]:
    """(horizon date, horizon as written) of the best time expression in ``text`` (module doc)."""
    pub = published.date() if isinstance(published, datetime) else published
    t = " ".join(text.split()).replace("\u2019", "'")
    found = _calendar(t, pub) + _spans(t, pub) + _named(t, pub)
    if not found:
        return None, None
    best = min(found, key=lambda f: (f.tier, f.start))
    return best.horizon, best.text.strip()


def rules_digest() -> str:
    """A digest of the horizon rules (patterns and conventions), for the stage's version."""
    parts = sorted(
        f"{k}={v.pattern}/{v.flags}" for k, v in globals().items() if isinstance(v, re.Pattern)
    )
    parts += [repr(SEASONS), repr(sorted(NUMBER_WORDS.items())), repr(UNITS), repr(CONVENTIONS)]
    parts += [repr(sorted(_NOT_AHEAD)), repr(sorted(_CALENDAR_PREPS)), repr(sorted(_YEAR_PREPS))]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:8]


__all__ = ["CONVENTIONS", "SEASONS", "resolve_horizon", "rules_digest"]
