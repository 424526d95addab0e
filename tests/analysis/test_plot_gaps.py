"""Topics over time: no line across periods the corpus does not cover."""

from __future__ import annotations

from datetime import datetime

import plotly.graph_objects as go

from crux.analysis.plots import break_gaps


def test_lines_break_where_the_corpus_has_no_items():
    months = [datetime(2020, 3, 1), datetime(2020, 4, 1), datetime(2020, 6, 1), datetime(2020, 9, 1)]
    fig = go.Figure([go.Scatter(x=[months[0], months[2], months[3]], y=[3, 5, 2], mode="lines",
                                hovertext=["a", "b", "c"]),
                     go.Scatter(x=[months[1]], y=[4], mode="lines", hovertext=["d"])])
    fig = break_gaps(fig, months, "month")
    first, second = fig.data
    assert [x.month for x in first.x] == [3, 4, 5, 6, 7, 8, 9]
    # April is covered (another topic has items): 0; May, July and August are not: gaps
    assert list(first.y) == [3, 0, None, 5, None, None, 2]
    assert list(second.y) == [0, 4, None, 0, None, None, 0]
    assert first.connectgaps is False and list(first.hovertext)[:2] == ["a", ""]
