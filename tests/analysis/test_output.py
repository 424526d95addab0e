"""The CLI's text tables: long cells wrap (nothing is cut), empty columns go, plurals."""

from __future__ import annotations

from crux.analysis.output import plural, table

LONG = ("Prediction markets aggregate dispersed information better than polls do, "
        "because traders who are wrong lose money.")


def test_long_cells_wrap_and_keep_every_word():
    out = table(["score", "claim", "document", "author"],
                [(0.9, LONG, "A post with a long enough title to need room", "Some Author")], width=70)
    lines = out.splitlines()
    assert all(len(x) <= 70 for x in lines), out
    assert "…" not in out
    words = " ".join(lines[2:]).split()
    for w in LONG.split():
        assert w in words, (w, out)
    assert len(lines) > 3  # the claim wrapped onto more lines


def test_claim_column_keeps_room_beside_other_long_columns():
    out = table(["claim", "document", "topic_label"], [(LONG, "t" * 60, "x" * 60)], width=80)
    first = out.splitlines()[2]
    assert first.startswith("Prediction markets"), out  # not cut to a few characters


def test_empty_columns_are_dropped():
    out = table(["a", "empty", "b"], [("1", None, "2"), ("3", "", "4")], width=80)
    assert "empty" not in out.splitlines()[0]
    assert out.splitlines()[2].split() == ["1", "2"]


def test_plural():
    assert plural(1, "rebuttal") == "1 rebuttal"
    assert plural(2, "post") == "2 posts"
    assert plural(0, "reply", "replies") == "0 replies"
    assert plural(1200, "claim") == "1,200 claims"
