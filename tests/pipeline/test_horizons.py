"""Horizon rules (crux.pipeline.horizons): one row per convention of the labelling guideline."""

from __future__ import annotations

from datetime import date

import pytest

from crux.pipeline.forecasts import FORECAST_FEATURES, ForecastsStage, forecast_features
from crux.pipeline.horizons import resolve_horizon, rules_digest

PUB = date(2026, 3, 10)  # a Tuesday in March


@pytest.mark.parametrize(("text", "expected"), [
    # years
    ("It will happen by 2030.", date(2030, 12, 31)),
    ("It will happen in 2027.", date(2027, 12, 31)),
    ("It will happen before 2030.", date(2029, 12, 31)),
    ("It will happen by mid-2027.", date(2027, 6, 30)),
    ("It will happen by early 2027.", date(2027, 12, 31)),
    ("It will happen by the end of 2027.", date(2027, 12, 31)),
    ("It will happen by the start of 2028.", date(2028, 1, 1)),
    ("It will happen in the 2030s.", date(2039, 12, 31)),
    ("It will happen before the 2030s.", date(2029, 12, 31)),
    ("It will be settled in the 2028 election.", date(2028, 12, 31)),
    ("It is expected from circa 2030 to 2035.", date(2035, 12, 31)),
    ("It will happen sometime in 2027-2029.", date(2029, 12, 31)),
    ("Growth will be slow for 2026.", date(2026, 12, 31)),
    # months and days, with and without a year
    ("It will happen in June.", date(2026, 6, 30)),
    ("It will happen in late April.", date(2026, 4, 30)),
    ("It will happen by mid-May.", date(2026, 5, 15)),
    ("It will happen before June.", date(2026, 5, 31)),
    ("It will stay closed till at least the end of May.", date(2026, 5, 31)),
    ("It will happen by February.", date(2027, 2, 28)),
    ("It will happen next March.", date(2027, 3, 31)),
    ("It will happen by September 2027.", date(2027, 9, 30)),
    ("It will happen by 28-Feb-2027.", date(2027, 2, 28)),
    ("It will happen on June 30, 2027.", date(2027, 6, 30)),
    ("It will happen on or before Dec. 31, 2026.", date(2026, 12, 31)),
    ("It will happen before 1 January 2027.", date(2026, 12, 31)),
    ("It will happen by 2027-03-01.", date(2027, 3, 1)),
    ("Median 30 June, 80% CI 7 May to 1 September.", date(2026, 6, 30)),
    ("Cases will peak by the week of March 16th.", date(2026, 3, 22)),
    ("Cases will double between March 16th and March 24th.", date(2026, 3, 24)),
    ("A second wave will come between August and December.", date(2026, 12, 31)),
    # seasons, quarters, halves
    ("It will happen this summer.", date(2026, 8, 31)),
    ("It will happen in early summer.", date(2026, 8, 31)),
    ("It will happen this spring.", date(2026, 5, 31)),
    ("It will happen in the fall.", date(2026, 11, 30)),
    ("It will happen next winter.", date(2027, 2, 28)),
    ("It will happen by summer 2027.", date(2027, 8, 31)),
    ("It will happen before the summer.", date(2026, 5, 31)),
    ("It will ship in Q3 2027.", date(2027, 9, 30)),
    ("It will ship by Q2.", date(2026, 6, 30)),
    ("It will ship in the first half of 2027.", date(2027, 6, 30)),
    ("It will ship in the second half of next year.", date(2027, 12, 31)),
    ("It will ship in H1 2027.", date(2027, 6, 30)),
    # spans from the publication date
    ("It will happen in 5 years.", date(2031, 3, 10)),
    ("It will happen within a decade.", date(2036, 3, 10)),
    ("It will happen in the next 12 months.", date(2027, 3, 10)),
    ("The next 12 months will be hard.", date(2027, 3, 10)),
    ("The coming year will be hard.", date(2027, 3, 10)),
    ("It will happen in the coming year.", date(2027, 3, 10)),
    ("It will happen in two weeks.", date(2026, 3, 24)),
    ("It will happen in about a week.", date(2026, 3, 17)),
    ("It will happen in the next 1-2 weeks.", date(2026, 3, 24)),
    ("Shortages could follow in 3-5 years from now.", date(2031, 3, 10)),
    ("It will happen in a couple months.", date(2026, 5, 10)),
    ("It will happen in the next few months.", date(2026, 6, 10)),
    ("It will happen in a few decades.", date(2056, 3, 10)),
    ("It will happen in the next couple of decades.", date(2046, 3, 10)),
    ("It will happen in a couple of generations.", date(2076, 3, 10)),
    ("It will happen in half a year.", date(2026, 9, 10)),
    ("It costs £30bn over 2yrs.", date(2028, 3, 10)),
    ("The pattern will repeat for another dozen years.", date(2038, 3, 10)),
    ("Only 1.5 months to go before it arrives.", date(2026, 4, 24)),
    # this / next
    ("It will happen this year.", date(2026, 12, 31)),
    ("It will happen later this year.", date(2026, 12, 31)),
    ("It will happen next year.", date(2027, 12, 31)),
    ("It will happen before the end of the year.", date(2026, 12, 31)),
    ("It will happen by the end of the decade.", date(2029, 12, 31)),
    ("It will happen next decade.", date(2039, 12, 31)),
    # priority: a written year over a span, a span over this/next year
    ("In a couple of months, so around May 2026.", date(2026, 5, 31)),
    ("A 10% chance in five years, i.e. by 2030.", date(2030, 12, 31)),
])
def test_horizon_conventions(text, expected):
    assert resolve_horizon(text, PUB)[0] == expected


@pytest.mark.parametrize("text", [
    "It happened in 2019.",
    "A 2019 study found the effect.",
    "It will cost 2030 dollars.",
    "Since 2027 is far off, it will not matter.",
    "As of 10-Mar-2026 the odds are 1.12.",
    "As of March 2027, it will be different.",
    "Update 2026-03-19: it will probably work.",
    "Retrieved 11 April 2027.",
    "The S&P 500 began to crash on Feb. 20th.",
    "In January, the company grew.",
    "Prices may fall, and may well rise.",
    "In mid-march they met.",
    "The fall of Rome will be studied forever.",
    "Bob and June will probably come.",
    "It grew 16% a year from 2006-2026.",
    "It will happen eventually.",
    "It will happen on 10 March.",  # the publication day itself
])
def test_not_horizons(text):
    assert resolve_horizon(text, PUB) == (None, None)


@pytest.mark.parametrize(("text", "published", "expected"), [
    ("It will happen this winter.", date(2026, 11, 5), date(2027, 2, 28)),
    ("It will happen this winter.", date(2027, 1, 5), date(2027, 2, 28)),
    ("It will happen in February.", date(2026, 11, 5), date(2027, 2, 28)),
    ("It will happen in November.", date(2026, 3, 5), date(2026, 11, 30)),
    ("It will happen in March.", date(2026, 4, 20), None),  # this year's, past
    ("It will happen by March.", date(2026, 4, 20), date(2027, 3, 31)),
])
def test_a_date_without_a_year_takes_the_nearest_occurrence(text, published, expected):
    assert resolve_horizon(text, published)[0] == expected


def test_without_a_publication_date_only_written_years_resolve():
    assert resolve_horizon("It will happen by 2030.", None)[0] == date(2030, 12, 31)
    assert resolve_horizon("It will happen in 5 years.", None) == (None, None)
    assert resolve_horizon("It will happen in June.", None) == (None, None)


def test_the_text_as_written_is_returned():
    assert resolve_horizon("It is expected from circa 2030 to 2035.", PUB)[1] == (
        "from circa 2030 to 2035"
    )


def test_the_detector_sees_the_signal_it_was_trained_with():
    # "in June" is a horizon for the field, not for the frozen detector signal
    text = "The vaccine will probably be approved in June."
    assert resolve_horizon(text, PUB)[0] == date(2026, 6, 30)
    feats = dict(zip(FORECAST_FEATURES, forecast_features(text, PUB), strict=True))
    assert feats["horizon"] == 0.0


def test_the_stage_version_carries_the_rules_digest():
    assert ForecastsStage.version.endswith(f"+h{rules_digest()}")
    assert len(rules_digest()) == 8
