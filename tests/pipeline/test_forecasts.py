"""The forecast parser (each form, horizons, non-forecast numbers) and the ForecastsStage."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from crux.pipeline.forecasts import (
    ForecastsStage,
    forecast_fields,
    is_candidate,
    parse_forecast,
    resolve_horizon,
)

PUB = date(2026, 11, 22)


@pytest.mark.parametrize(("text", "prob", "low", "high"), [
    ("I think there's a 30% chance the bill passes.", 0.3, None, None),
    ("There's roughly a 1 in 5 chance that the launch slips.", 0.2, None, None),
    ("I give 3:1 odds that the merger goes through.", 0.75, None, None),
    ("The odds are 4 to 1 against the startup surviving.", 0.2, None, None),
    ("My credence that scaling continues is p = 0.3.", 0.3, None, None),
    ("I'd say there's a 70-80% chance we see a prototype.", 0.75, 0.7, 0.8),
    ("The probability of a recession is somewhere between 20% and 40%.", 0.3, 0.2, 0.4),
    ("Metaculus puts the chance of a ceasefire at 25%.", 0.25, None, None),
])
def test_numeric_forms(text, prob, low, high):
    f = parse_forecast(text, PUB)
    assert f is not None
    assert f.probability == pytest.approx(prob)
    assert f.low == (pytest.approx(low) if low is not None else None)
    assert f.high == (pytest.approx(high) if high is not None else None)


@pytest.mark.parametrize(("text", "verbal", "prob"), [
    ("Fusion will probably be viable by the end of the decade.", "probably", 0.75),
    ("It is likely that the vote will pass next month.", "likely", 0.75),
    ("Chances are the court rules against them.", "chances are", 0.75),
    ("I'd bet the project ships late.", "i'd bet", 0.75),
    ("I expect interest rates to fall next year.", "i expect", 0.75),
    ("The treaty will almost certainly not be ratified in the next 10 years.",
     "almost certainly not", 0.07),
    ("It's unlikely that the company will survive the decade.", "unlikely", 0.3),
])
def test_verbal_forms(text, verbal, prob):
    f = parse_forecast(text, PUB)
    assert f is not None and f.verbal == verbal and f.probability == pytest.approx(prob)


def test_unhedged_prediction_with_a_horizon():
    f = parse_forecast("Self-driving taxis will operate in every major US city by 2030.", PUB)
    assert f is not None and f.probability is None
    assert f.horizon == date(2030, 12, 31) and f.horizon_text == "by 2030"


@pytest.mark.parametrize(("text", "expected"), [
    ("in the next 10 years", date(2036, 11, 22)),
    ("within five years", date(2031, 11, 22)),
    ("in a decade", date(2036, 11, 22)),
    ("by the end of the decade", date(2029, 12, 31)),
    ("next year", date(2027, 12, 31)),
    ("this year", date(2026, 12, 31)),
    ("by 2028", date(2028, 12, 31)),
    ("before 2035", date(2034, 12, 31)),
    ("by mid-2027", date(2027, 6, 30)),
    ("in the next 6 months", date(2027, 5, 22)),
])
def test_horizons_resolve_against_the_publication_date(text, expected):
    assert resolve_horizon(f"It will happen {text}.", datetime(2026, 11, 22, 9, 30))[0] == expected


def test_past_years_are_not_horizons():
    assert resolve_horizon("It happened in 2019.", PUB) == (None, None)


@pytest.mark.parametrize("text", [
    "Unemployment rose to 4.3% in 2024.",
    "About 30% of respondents said they had changed jobs.",
    "We trained with a learning rate of 3e-4 and a dropout of 0.1.",
    "The test is 95% accurate on the held-out set.",
    "In 2019, the company grew its revenue by 20%.",
    "The sample was 60% female and 40% male.",
    "A 2% fee applies to every transaction.",
    "The survey found that 1 in 5 adults had never voted.",
    "Prices are 15% lower than last year.",
    "Will AI be transformative by 2030?",
    "In this post I will explain why the argument fails.",
    "I will describe the method in the next section.",
    "He was probably right about the cause of the outage.",
])
def test_non_forecasts_are_rejected(text):
    assert parse_forecast(text, PUB) is None


def test_holder_and_event(nlp_full):
    text = "Ostrander expects the price of solar to halve within a decade."
    f = parse_forecast(text, PUB, nlp_full(text))
    assert f is not None and f.holder == "Ostrander" and f.horizon == date(2036, 11, 22)
    text = "I think there's a 30% chance that the bill passes before the midterms."
    f = parse_forecast(text, PUB, nlp_full(text))
    assert f is not None and f.holder is None
    assert f.event == "the bill passes before the midterms"


@pytest.fixture(scope="module")
def nlp_full():
    from crux.pipeline.features import load_nlp
    return load_nlp()


def _seed(con):
    con.execute("INSERT INTO documents (id, kind, content_hash, published_at) VALUES "
                "('d1', 'post', 'h1', TIMESTAMP '2026-01-15 10:00:00'), "
                "('d2', 'post', 'h2', NULL)")
    sents = [
        ("d1:s0", "d1", "d1:b0", 0, "I think there's a 30% chance the treaty is signed by 2028.", False),
        ("d1:s1", "d1", "d1:b0", 1, "Prices fell 15% last year.", False),
        ("d1:s2", "d1", "d1:b1", 2, "Metaculus puts a recession in the next 2 years at 40%.", True),
        ("d2:s0", "d2", "d2:b0", 0, "The launch will probably slip.", False),
        ("d2:s1", "d2", "d2:b0", 1, "What is the chance of rain?", False),
    ]
    for sid, doc, block, pos, text, quote in sents:
        con.execute('INSERT INTO sentences (id, document_id, block_id, position, text, start, "end", '
                    "in_quote) VALUES (?, ?, ?, ?, ?, 0, ?, ?)", [sid, doc, block, pos, text, len(text), quote])
    con.execute("INSERT INTO _stage_state VALUES ('segment', 'd1', 'h1', '1', now()), "
                "('segment', 'd2', 'h2', '1', now())")


def test_stage_twice_same_rows(con):
    _seed(con)
    stage = ForecastsStage()
    first = stage.run(con)
    rows = con.execute("SELECT * FROM forecasts ORDER BY sentence_id").fetchall()
    assert first.rows_out == 3 and first.docs == 2
    by_id = {r[0]: r for r in rows}
    assert set(by_id) == {"d1:s0", "d1:s2", "d2:s0"}
    assert by_id["d1:s0"][2] == pytest.approx(0.3) and str(by_id["d1:s0"][6]) == "2028-12-31"
    assert str(by_id["d1:s2"][6]) == "2028-01-15" and by_id["d1:s2"][9] == "Metaculus"
    assert by_id["d2:s0"][5] == "probably" and by_id["d2:s0"][6] is None
    second = stage.run(con)
    assert second.docs == 0 and second.rows_out == 0
    assert con.execute("SELECT * FROM forecasts ORDER BY sentence_id").fetchall() == rows
    forced = ForecastsStage().run(con, force=True)
    assert forced.rows_out == 3
    assert con.execute("SELECT * FROM forecasts ORDER BY sentence_id").fetchall() == rows


@pytest.mark.parametrize(("text", "form", "prob", "implied", "condition"), [
    ("I think there's a 30% chance the bill passes.", "numeric", 0.3, 0.3, None),
    ("I give 3:1 odds that the merger goes through.", "numeric", 0.75, 0.75, None),
    ("Fusion will probably be viable by the end of the decade.", "hedged", None, 0.75, None),
    ("I'd guess that the rules change before the election.", "hedged", None, 0.65, None),
    ("Most likely the vote fails.", "hedged", None, 0.8, None),
    ("Many people will reject proposals that raise taxes.", "unhedged", None, 0.95, None),
    ("This won't last.", "unhedged", None, 0.05, None),
    ("If the vaccine works, cases will probably fall by June.", "hedged", None, 0.75,
     "the vaccine works"),
])
def test_fields_of_each_form(text, form, prob, implied, condition):
    f = forecast_fields(text, PUB)
    assert f.form == form
    assert f.probability == (pytest.approx(prob) if prob is not None else None)
    assert f.implied_probability == pytest.approx(implied)
    assert f.condition == condition


def test_candidates_are_the_sampling_list_without_questions():
    assert is_candidate("This won't last.")
    assert is_candidate("Prices rose 5% this month.")
    assert not is_candidate("Will AI be transformative by 2030?")
    assert not is_candidate("The cat sat on the mat.")


def test_the_detector_decides_real_cases(con):
    """The shipped detector on sentences of each kind (clear cases only)."""
    stage = ForecastsStage()
    stage.setup(con)
    texts = ["I think there's a 30% chance the treaty is signed by 2028.",
             "I expect that within five years most new cars sold will be electric.",
             "In this post I will explain the method.",
             "The cat was probably hungry yesterday."]
    p = stage.score(texts, [PUB] * 4, [False] * 4)
    thr = stage.model.threshold
    assert p[0] >= thr and p[1] >= thr
    assert p[2] < thr and p[3] < thr


def test_a_missing_model_names_the_command_that_rebuilds_it(tmp_path):
    from crux.errors import StageError
    from crux.pipeline.claims import ClaimModel

    bad = tmp_path / "forecasts-lr-1.json"
    bad.write_text('{"name": "x"}')
    with pytest.raises(StageError) as e:
        ClaimModel.load(bad, what="forecast detector", script="scripts/train_forecasts.py")
    assert "scripts/train_forecasts.py" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(StageError):
        ClaimModel.load(tmp_path / "missing.json")


def test_forms_are_stored_and_filtered(con):
    from crux.analysis.forecasts import forecasts

    _seed(con)
    ForecastsStage().run(con)
    stored = dict(con.execute("SELECT sentence_id, form FROM forecasts").fetchall())
    assert stored.get("d1:s0") == "numeric"
    cols, rows = forecasts(con, form="numeric")
    assert rows and all(r[cols.index("form")] == "numeric" for r in rows)
    assert "d1:s0" in {r[cols.index("sentence_id")] for r in rows}
    _, none = forecasts(con, form="unhedged")
    assert all(r[0] == "unhedged" for r in none)
