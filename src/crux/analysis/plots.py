"""Topic figures: BERTopic's plotly figures as self-contained HTML, or PNG through matplotlib.

HTML embeds plotly.js (no CDN), so a page opens offline. PNG needs no kaleido or browser:
the plotly figure's traces (bars, lines, markers) are redrawn with matplotlib, one axes per
plotly subplot. The over-time figure is built from the stored assignments (counts per month),
not from BERTopic's ``topics_over_time``, which crashes on string dates under pandas 3.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..db.tx import scalar
from ..errors import StageError, UsageError

if TYPE_CHECKING:
    import duckdb

KINDS = ("barchart", "over-time", "hierarchy", "map")


def figure(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    kind: str,
    db_path: Any,
    top: int = 8,
    freq: str = "month",
) -> Any:
    """The plotly figure of ``kind`` for a topic run."""
    from .topic_views import item_join
    from .topics import load_model, resolve_run

    if kind not in KINDS:
        raise UsageError(f"--kind {kind!r} is not one of: {', '.join(KINDS)}")
    _, _, item_kind = resolve_run(con, run_id)
    n_topics = scalar(
        con, "SELECT count(*) FROM topics WHERE run_id = ? AND topic_id >= 0", [run_id]
    )
    model = load_model(con, run_id, db_path)
    if kind == "barchart":
        return model.visualize_barchart(top_n_topics=top, n_words=8)
    if kind == "hierarchy":
        if n_topics < 2:
            raise StageError(f"a hierarchy needs at least 2 topics; run {run_id} has {n_topics}")
        return model.visualize_hierarchy(top_n_topics=None)
    if kind == "map":
        if n_topics < 4:
            raise StageError(f"a topic map needs at least 4 topics; run {run_id} has {n_topics}")
        return model.visualize_topics()
    import pandas as pd

    rows = con.execute(
        f"SELECT date_trunc('{freq}', d.published_at) AS ts, a.topic_id, count(*) FROM {item_join(item_kind)} "
        "WHERE a.run_id = ? AND d.published_at IS NOT NULL GROUP BY ALL ORDER BY ts, a.topic_id",
        [run_id],
    ).fetchall()
    if not rows:
        raise StageError(f"no dated items in topic run {run_id}: over-time needs published_at")
    words = {
        t: ", ".join(w for w, _ in json.loads(ws or "[]")[:5])
        for t, ws in con.execute(
            "SELECT topic_id, words FROM topics WHERE run_id = ?", [run_id]
        ).fetchall()
    }
    df = pd.DataFrame(
        {
            "Topic": [r[1] for r in rows],
            "Words": [words.get(r[1], "") for r in rows],
            "Frequency": [r[2] for r in rows],
            "Timestamp": pd.to_datetime([r[0] for r in rows]),
        }
    )
    fig = model.visualize_topics_over_time(df, top_n_topics=top)
    return break_gaps(fig, sorted({r[0] for r in rows}), freq)


_PANDAS_FREQ = {"day": "D", "week": "W-MON", "month": "MS", "quarter": "QS", "year": "YS"}


def break_gaps(fig: Any, covered: list[Any], freq: str) -> Any:
    """Give each line every period from the first to the last: 0 where the corpus has items
    but the topic none, a gap (no line drawn) where the corpus has no items at all."""
    import pandas as pd

    have = set(pd.to_datetime(covered))
    periods = pd.date_range(min(have), max(have), freq=_PANDAS_FREQ.get(freq, "MS"))
    periods = sorted(set(periods) | have)
    for tr in fig.data:
        if tr.x is None or tr.y is None:
            continue
        hover = (
            list(tr.hovertext)
            if tr.hovertext is not None and not isinstance(tr.hovertext, str)
            else None
        )
        points = {x: k for k, x in enumerate(pd.to_datetime(list(tr.x)))}
        ys, hs = [], []
        for p in periods:
            k = points.get(p)
            ys.append(tr.y[k] if k is not None else (0 if p in have else None))
            hs.append(hover[k] if hover is not None and k is not None else "")
        tr.update(x=periods, y=ys, connectgaps=False)
        if hover is not None:
            tr.update(hovertext=hs)
    return fig


def calibration_figure(
    con: duckdb.DuckDBPyConnection, author: str | None = None, bins: int = 10
) -> Any:
    """Calibration of the resolved forecasts: observed frequency against mean predicted
    probability per bin (marker size: count), with the diagonal of perfect calibration."""
    import plotly.graph_objects as go

    from .tracking import calibration

    _, rows = calibration(con, bins, by="author" if author else None, group=author)
    if not rows:
        who = f" by {author}" if author else ""
        raise StageError(
            f"no forecasts{who} are resolved yes or no yet: resolve some with "
            "crux forecasts resolve (see crux forecasts due)"
        )
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            name="perfect calibration",
            line={"dash": "dash", "color": "#999"},
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[r[3] for r in rows],
            y=[r[4] for r in rows],
            mode="markers",
            name="forecasts",
            text=[f"n={r[2]}" for r in rows],
            marker={"size": [8 + 4 * r[2] ** 0.5 for r in rows]},
        )
    )
    title = "Calibration" + (f": {author}" if author else "")
    fig.update_layout(
        title=title,
        xaxis_title="predicted probability",
        yaxis_title="observed frequency",
        xaxis_range=[0, 1],
        yaxis_range=[0, 1],
    )
    return fig


def write(fig: Any, out: Path) -> Path:
    """Write ``fig`` to ``out``: .html (plotly.js inline) or .png (matplotlib)."""
    suffix = out.suffix.lower()
    if not out.parent.exists():
        raise UsageError(f"--out {out}: folder {out.parent} does not exist")
    if suffix in (".html", ".htm"):
        fig.write_html(str(out), include_plotlyjs=True, full_html=True)
    elif suffix == ".png":
        _png(fig, out)
    else:
        raise UsageError(f"--out {out}: use a file name ending in .html or .png")
    return out


def _axis_key(name: str | None, letter: str) -> str:
    return name or letter


def _png(fig: Any, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    traces = [t for t in fig.data if t.type in ("bar", "scatter", "scattergl")]
    keys: list[tuple[str, str]] = []
    for t in traces:
        k = (_axis_key(getattr(t, "xaxis", None), "x"), _axis_key(getattr(t, "yaxis", None), "y"))
        if k not in keys:
            keys.append(k)
    n = max(1, len(keys))
    cols = 1 if n == 1 else min(4, n)
    rows = (n + cols - 1) // cols
    mfig, axes = plt.subplots(
        rows, cols, figsize=(4.2 * cols if n > 1 else 10, 3.2 * rows if n > 1 else 6), squeeze=False
    )
    flat = list(axes.flat)
    titles = [a.text for a in (fig.layout.annotations or []) if a.text]
    for t in traces:
        k = (_axis_key(getattr(t, "xaxis", None), "x"), _axis_key(getattr(t, "yaxis", None), "y"))
        ax = flat[keys.index(k)]
        x = list(t.x) if t.x is not None else []
        y = [float("nan") if v is None else v for v in t.y] if t.y is not None else []  # gaps
        if t.type == "bar":
            if t.orientation == "h":
                ax.barh([str(v) for v in y], x, color="#4c72b0")
            else:
                ax.bar([str(v) for v in x], y, color="#4c72b0")
            continue
        mode = t.mode or "lines"
        if "markers" in mode and "lines" not in mode:
            import numpy as np

            raw = t.marker.size if t.marker is not None and t.marker.size is not None else 20
            arr = np.asarray(raw, dtype=float).ravel()
            sizes: Any = arr**2 / 4 if arr.size == len(x) else float(arr[0]) if arr.size else 20.0
            ax.scatter(x, y, s=sizes, alpha=0.5, label=t.name)
        else:
            ax.plot(x, y, label=t.name if t.showlegend is not False else None, linewidth=1)
    for ax, title in zip(flat, titles if len(titles) == n else [], strict=False):
        ax.set_title(title[:40], fontsize=8)
    for ax in flat[n:]:
        ax.axis("off")
    if (
        any(t.type != "bar" and t.name and t.showlegend is not False for t in traces)
        and len(traces) <= 12
    ):
        flat[0].legend(fontsize=6)
    title = fig.layout.title.text if fig.layout.title and fig.layout.title.text else ""
    if title:
        mfig.suptitle(title.replace("<b>", "").replace("</b>", ""))
    mfig.tight_layout()
    mfig.savefig(str(out), dpi=110)
    plt.close(mfig)


__all__ = ["KINDS", "calibration_figure", "figure", "write"]
