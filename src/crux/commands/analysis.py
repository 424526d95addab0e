"""``crux topics``, ``crux claims`` and ``crux forecasts``: analyses of the stored corpus.

Only click and crux's light modules are imported here; BERTopic, UMAP and torch are imported
inside the commands that need them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from ..cli import _open, cli, db_option


def output_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--json`` / ``--csv``: machine-readable output instead of the table."""
    f = click.option("--csv", "as_csv", is_flag=True, help="Print CSV with a header row.")(f)
    return click.option("--json", "as_json", is_flag=True, help="Print a JSON list of objects.")(f)


def _emit(
    table: tuple[list[str], list[tuple[Any, ...]]],
    as_json: bool,
    as_csv: bool,
    empty: str = "nothing to show",
) -> None:
    from ..analysis.output import render

    if as_json and as_csv:
        raise click.UsageError("Use only one of --json and --csv")
    cols, rows = table
    if not rows and not (as_json or as_csv):
        click.echo(empty)
        return
    click.echo(render(cols, rows, "json" if as_json else "csv" if as_csv else "table"))


run_option = click.option("--run", "run_id", help="Topic run to show (default: the latest).")


def _topic_arg_check(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise click.UsageError(
            f"TOPIC must be a topic number (see crux topics list), not {value!r}"
        ) from None


# ---- topics -------------------------------------------------------------------------------------


@cli.group()
def topics() -> None:
    """Topic models of documents or claims (BERTopic on the stored embeddings).

    Example: crux topics fit && crux topics list
    """


@topics.command("fit")
@db_option
@click.option(
    "--unit",
    type=click.Choice(["documents", "claims"]),
    default="documents",
    show_default=True,
    help="What to cluster.",
)
@click.option(
    "--min-topic-size",
    type=click.IntRange(min=2),
    default=None,
    help="Smallest topic (HDBSCAN min_cluster_size). Default: one per 100 documents "
    "(at least 4); for claims, one per 300 claims (at least 10).",
)
@click.option("--seed", type=int, default=42, show_default=True, help="UMAP random_state.")
@click.option("--reduce-outliers", is_flag=True, help="Move outliers to their nearest topic.")
@click.option("--model", help="Embedding model of the stored vectors (default: the most used).")
def topics_fit(
    db_path: Path,
    unit: str,
    min_topic_size: int | None,
    seed: int,
    reduce_outliers: bool,
    model: str | None,
) -> None:
    """Fit a topic model on the stored embeddings and store its topics and assignments.

    Example: crux topics fit --unit claims --min-topic-size 15

    Never re-embeds. The model is saved (safetensors) in <db>-data/topics/<run>/; numba's
    compiled code is cached in <db>-data/numba-cache/, so later fits start faster.
    """
    import time

    from ..analysis.topics import fit
    from ..cli import is_terminal

    t0 = time.monotonic()

    def progress(msg: str) -> None:
        click.echo(f"[{time.monotonic() - t0:5.0f}s] {msg}", err=True)

    con = _open(db_path)
    try:
        result = fit(
            con,
            db_path,
            unit=unit,
            min_topic_size=min_topic_size,
            seed=seed,
            reduce_outliers=reduce_outliers,
            model=model,
            progress=progress if is_terminal() else None,
        )
    finally:
        con.close()
    click.echo(result.summary())
    if result.warning:
        click.echo(f"Warning: {result.warning}", err=True)


@topics.command("assign")
@db_option
@click.option(
    "--run", "run_id", help="Topic run to assign to (default: the latest run of each unit)."
)
def topics_assign(db_path: Path, run_id: str | None) -> None:
    """Give items embedded since the last fit the topic of their nearest centroid.

    Example: crux topics assign
    """
    from ..analysis.topics import assign_new

    con = _open(db_path)
    try:
        n = assign_new(con, run_id)
    finally:
        con.close()
    click.echo(f"{n} new items assigned to topics")


@topics.command("list")
@db_option
@run_option
@click.option("--runs", is_flag=True, help="List the topic runs instead.")
@output_options
def topics_list(db_path: Path, run_id: str | None, runs: bool, as_json: bool, as_csv: bool) -> None:
    """Topics of a run with their sizes and labels.

    Example: crux topics list --json
    """
    from ..analysis import topic_views as v
    from ..analysis.topics import resolve_run

    con = _open(db_path, read_only=True)
    try:
        if runs:
            _emit(v.runs(con), as_json, as_csv, "no topic runs yet: run crux topics fit")
            return
        rid, _, _ = resolve_run(con, run_id)
        _emit(v.list_topics(con, rid), as_json, as_csv)
    finally:
        con.close()


@topics.command("show")
@db_option
@run_option
@click.argument("topic")
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Items and authors to list.",
)
@output_options
def topics_show(
    db_path: Path, run_id: str | None, topic: str, top: int, as_json: bool, as_csv: bool
) -> None:
    """One topic: words, top items, authors, sources and date range.

    Example: crux topics show 3
    """
    from ..analysis import topic_views as v
    from ..analysis.output import _json_value, render
    from ..analysis.topics import resolve_run

    t = _topic_arg_check(topic)
    con = _open(db_path, read_only=True)
    try:
        rid, _, kind = resolve_run(con, run_id)
        info = v.show(con, rid, kind, t, top=top)
    finally:
        con.close()
    if as_json and as_csv:
        raise click.UsageError("Use only one of --json and --csv")
    if as_csv:
        _emit(info["items"], False, True)
        return
    if as_json:
        import json

        out = {
            k: (
                [dict(zip(val[0], map(_json_value, r), strict=True)) for r in val[1]]
                if isinstance(val, tuple)
                else _json_value(val)
            )
            for k, val in info.items()
        }
        click.echo(json.dumps(out, ensure_ascii=False, indent=1))
        return
    first = f"{info['first']:%Y-%m-%d}" if info["first"] else "?"
    last = f"{info['last']:%Y-%m-%d}" if info["last"] else "?"
    click.echo(
        f"topic {t} of run {rid}: {info['label']}\n{info['size']} items, {first} to {last}\n"
    )
    click.echo("words: " + ", ".join(f"{w} ({s:.3f})" for w, s in info["words"][1]) + "\n")
    for key in ("items", "authors", "sources"):
        click.echo(f"{key}:")
        click.echo(render(*info[key]) + "\n")


@topics.command("over-time")
@db_option
@run_option
@click.option(
    "--freq",
    type=click.Choice(["day", "week", "month", "quarter", "year"]),
    default="month",
    show_default=True,
    help="Period to count by.",
)
@output_options
def topics_over_time(
    db_path: Path, run_id: str | None, freq: str, as_json: bool, as_csv: bool
) -> None:
    """Items per topic and period (counted from the stored assignments).

    Example: crux topics over-time --freq quarter --csv
    """
    from ..analysis import topic_views as v
    from ..analysis.topics import resolve_run

    con = _open(db_path, read_only=True)
    try:
        rid, _, kind = resolve_run(con, run_id)
        _emit(v.over_time(con, rid, kind, freq), as_json, as_csv, "no dated items in this run")
    finally:
        con.close()


@topics.command("by-source")
@db_option
@run_option
@output_options
def topics_by_source(db_path: Path, run_id: str | None, as_json: bool, as_csv: bool) -> None:
    """Topics per source, with each topic's share of the source.

    Example: crux topics by-source
    """
    from ..analysis import topic_views as v
    from ..analysis.topics import resolve_run

    con = _open(db_path, read_only=True)
    try:
        rid, _, kind = resolve_run(con, run_id)
        _emit(v.by_source(con, rid, kind), as_json, as_csv)
    finally:
        con.close()


@topics.command("by-author")
@db_option
@run_option
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Authors to show (those with the most items).",
)
@output_options
def topics_by_author(
    db_path: Path, run_id: str | None, limit: int, as_json: bool, as_csv: bool
) -> None:
    """Topics per author, for the authors with the most items.

    Example: crux topics by-author --limit 5 --json
    """
    from ..analysis import topic_views as v
    from ..analysis.topics import resolve_run

    con = _open(db_path, read_only=True)
    try:
        rid, _, kind = resolve_run(con, run_id)
        _emit(v.by_author(con, rid, kind, limit), as_json, as_csv)
    finally:
        con.close()


@topics.command("plot")
@db_option
@run_option
@click.option(
    "--kind",
    type=click.Choice(["barchart", "over-time", "hierarchy", "map"]),
    default="barchart",
    show_default=True,
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="File to write: .html (self-contained) or .png.",
)
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Topics to draw (barchart, over-time).",
)
def topics_plot(db_path: Path, run_id: str | None, kind: str, out: Path, top: int) -> None:
    """Draw a topic run: word bar charts, topics over time, hierarchy or intertopic map.

    Example: crux topics plot --kind hierarchy --out topics.html

    HTML embeds plotly.js, so it opens offline; .png is drawn with matplotlib.
    """
    from ..analysis.plots import figure, write
    from ..analysis.topics import resolve_run

    if out.suffix.lower() not in (".html", ".htm", ".png"):
        raise click.UsageError(f"--out {out}: use a file name ending in .html or .png")
    con = _open(db_path, read_only=True)
    try:
        rid, _, _ = resolve_run(con, run_id)
        fig = figure(con, rid, kind, db_path, top=top)
    finally:
        con.close()
    write(fig, out)
    click.echo(f"wrote {out} ({kind}, run {rid}, {out.stat().st_size / 1e6:.1f} MB)")


# ---- claims and forecasts -------------------------------------------------------------------------


@cli.group(invoke_without_command=True)
@db_option
@click.option("--doc", help="List the claims of this document (id or URL).")
@output_options
@click.pass_context
def claims(ctx: click.Context, db_path: Path, doc: str | None, as_json: bool, as_csv: bool) -> None:
    """Claims: search them, find the most contested, or list one document's.

    Example: crux claims --doc https://www.lesswrong.com/posts/abc/slug
    """
    if ctx.invoked_subcommand is not None:
        return
    if not doc:
        click.echo(ctx.get_help())
        return
    from ..analysis.claims_search import of_document

    con = _open(db_path, read_only=True)
    try:
        _emit(of_document(con, doc), as_json, as_csv, "this document has no claims")
    finally:
        con.close()


@claims.command("search")
@db_option
@click.argument("text")
@click.option(
    "-k", "k", type=click.IntRange(min=1), default=10, show_default=True, help="Hits to show."
)
@output_options
def claims_search(db_path: Path, text: str, k: int, as_json: bool, as_csv: bool) -> None:
    """Claims closest in meaning to TEXT (cosine over the stored claim embeddings).

    Example: crux claims search "forecasting grants are wasted" -k 5
    """
    from ..analysis.claims_search import search

    con = _open(db_path, read_only=True)
    try:
        _emit(search(con, text, k), as_json, as_csv, "no claims found")
    finally:
        con.close()


@claims.command("contested")
@db_option
@click.option("--topic", type=int, help="Only claims in this topic.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@output_options
def claims_contested(
    db_path: Path, topic: int | None, limit: int, as_json: bool, as_csv: bool
) -> None:
    """Claims with the most attacks (from claim_links).

    Example: crux claims contested --topic 2 --json
    """
    from ..analysis.claims_search import contested

    con = _open(db_path, read_only=True)
    try:
        _emit(contested(con, topic, limit), as_json, as_csv, "no attacked claims yet")
    finally:
        con.close()


def _date(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2026-01-31") from None


@cli.group("forecasts", invoke_without_command=True)
@db_option
@click.option("--topic", type=int, help="Only forecasts in this topic.")
@click.option(
    "--from", "start", callback=_date, help="Published on or after this date (YYYY-MM-DD)."
)
@click.option("--to", "end", callback=_date, help="Published on or before this date (YYYY-MM-DD).")
@click.option("--limit", type=click.IntRange(min=1), help="Show at most N forecasts.")
@click.option(
    "--form",
    type=click.Choice(["numeric", "hedged", "unhedged"]),
    help="Only forecasts of this form.",
)
@output_options
@click.pass_context
def forecasts_cmd(
    ctx: click.Context,
    db_path: Path,
    topic: int | None,
    start: Any,
    end: Any,
    limit: int | None,
    form: str | None,
    as_json: bool,
    as_csv: bool,
) -> None:
    """Forecasts with probability, horizon, event, holder, author, date, key and outcome.

    Example: crux forecasts --from 2020-01-01 --to 2020-12-31 --form numeric --csv

    The forecast_key column is what `crux forecasts resolve KEY` takes.
    """
    if ctx.invoked_subcommand is not None:
        return
    from ..analysis.forecasts import forecasts

    if start and end and start > end:
        raise click.UsageError("--from is after --to")
    con = _open(db_path, read_only=True)
    try:
        _emit(
            forecasts(con, topic=topic, start=start, end=end, limit=limit, form=form),
            as_json,
            as_csv,
            "no forecasts found",
        )
    finally:
        con.close()


@forecasts_cmd.command("due")
@db_option
@output_options
def forecasts_due(db_path: Path, as_json: bool, as_csv: bool) -> None:
    """Forecasts whose horizon has passed and that are not resolved yet, oldest first.

    Example: crux forecasts due --csv > due.csv
    """
    from ..analysis.tracking import due

    con = _open(db_path, read_only=True)
    try:
        _emit(due(con), as_json, as_csv, "no forecasts are due")
    finally:
        con.close()


@forecasts_cmd.command("groups")
@db_option
@output_options
def forecasts_groups(db_path: Path, as_json: bool, as_csv: bool) -> None:
    """Forecasts in different documents about the same event, one row per member.

    Example: crux forecasts groups --csv > groups.csv

    Two forecasts are the same event when their event texts' vectors are close (cosine at
    least 0.82) and their horizons are within a year (or unknown). A group's id (g-...) is
    what `crux forecasts resolve` takes to resolve every member at once.
    """
    from ..analysis.event_groups import group_table

    con = _open(db_path, read_only=True)
    try:
        _emit(
            group_table(con),
            as_json,
            as_csv,
            "no same-event groups (run crux process so the embed stage has event vectors)",
        )
    finally:
        con.close()


@forecasts_cmd.command("resolve")
@db_option
@click.argument("key")
@click.option("--outcome", required=True, help="yes, no, ambiguous, or a number.")
@click.option("--source", help="A URL that shows the outcome (default: manual).")
@click.option("--note", help="A free-text note.")
@click.option("--who", help="Who resolved it.")
@click.option("--at", "resolved_at", help="When it resolved (YYYY-MM-DD; default: now).")
def forecasts_resolve(
    db_path: Path,
    key: str,
    outcome: str,
    source: str | None,
    note: str | None,
    who: str | None,
    resolved_at: str | None,
) -> None:
    """Record what happened to the forecast KEY (its forecast_key in `crux forecasts --json`).

    KEY may be a same-event group's id (g-..., see `crux forecasts groups`): every member is
    resolved.

    Example: crux forecasts resolve d1:0a1b2c3d4e5f --outcome yes --source https://example.org/news
    """
    from ..analysis.event_groups import is_group_key, resolve_group
    from ..analysis.tracking import resolve
    from ..errors import InputError

    con = _open(db_path)
    try:
        try:
            opts = {"source": source, "note": note, "who": who, "resolved_at": resolved_at}
            if is_group_key(key):
                done = resolve_group(con, key, outcome, **opts)
            else:
                done = [resolve(con, key, outcome, **opts)]
        except InputError as e:
            raise click.BadParameter(str(e)) from None
    finally:
        con.close()
    for r in done:
        click.echo(f"resolved {r.key}: {r.outcome} ({r.source})")


@forecasts_cmd.command("import")
@db_option
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def forecasts_import(db_path: Path, file: Path) -> None:
    """Store the resolutions of a CSV file (the format `crux forecasts export` writes).

    Example: crux forecasts import resolutions.csv

    Columns: forecast_key, outcome (yes|no|ambiguous|number), resolved_at (YYYY-MM-DD, default
    now), source (URL or manual), note, who; others are ignored. One bad row: nothing is stored.
    """
    from ..analysis.tracking import import_csv

    con = _open(db_path)
    try:
        n = import_csv(con, file)
    finally:
        con.close()
    click.echo(f"imported {n} resolution{'' if n == 1 else 's'} from {file}")


@forecasts_cmd.command("export")
@db_option
@output_options
def forecasts_export(db_path: Path, as_json: bool, as_csv: bool) -> None:
    """Print every resolution (CSV by default, the format `crux forecasts import` reads).

    Example: crux forecasts export > resolutions.csv

    orphaned is true when the forecast's sentence is gone from its document (edited upstream).
    """
    from ..analysis.tracking import export_csv, resolutions

    con = _open(db_path, read_only=True)
    try:
        if as_json and as_csv:
            raise click.UsageError("Use only one of --json and --csv")
        if as_json:
            _emit(resolutions(con), True, False)
        else:  # CSV is the default: it is what import reads
            click.echo(export_csv(con), nl=False)
    finally:
        con.close()


@forecasts_cmd.command("score")
@db_option
@click.option(
    "--by",
    type=click.Choice(["author", "source", "form", "holder"]),
    default="author",
    show_default=True,
    help="Group the scores by this.",
)
@output_options
def forecasts_score(db_path: Path, by: str, as_json: bool, as_csv: bool) -> None:
    """Brier and log scores of the resolved forecasts, per group, with 95% bootstrap intervals.

    Example: crux forecasts score --by form

    Uses forecasts resolved yes or no that have an implied probability (hedged ones through
    their verbal phrase's value). Brier: lower is better; log score: higher is better.
    """
    from ..analysis.tracking import scores

    con = _open(db_path, read_only=True)
    try:
        _emit(
            scores(con, by), as_json, as_csv, "no resolved forecasts yet (see crux forecasts due)"
        )
    finally:
        con.close()


@forecasts_cmd.command("plot")
@db_option
@click.option(
    "--kind", type=click.Choice(["calibration"]), default="calibration", show_default=True
)
@click.option("--author", help="Only this author's forecasts.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Output file: .html (interactive) or .png.",
)
def forecasts_plot(db_path: Path, kind: str, author: str | None, out: Path) -> None:
    """Plot the calibration of the resolved forecasts (predicted vs observed frequency).

    Example: crux forecasts plot --kind calibration --out calibration.html
    """
    from ..analysis.plots import calibration_figure, write

    if out.suffix.lower() not in (".html", ".png"):
        raise click.BadParameter(f"{out.name}: use a .html or .png file name", param_hint="--out")
    con = _open(db_path, read_only=True)
    try:
        fig = calibration_figure(con, author=author)
    finally:
        con.close()
    write(fig, out)
    click.echo(f"wrote {out} ({kind})")
