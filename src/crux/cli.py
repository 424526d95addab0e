"""The ``crux`` command. Thin: each command checks its flags, then calls a plain function.

Heavy libraries (torch, sentence-transformers, spaCy, BERTopic, Datasette) are imported only
inside the commands that use them, so ``crux --help`` answers at once.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from . import __version__
from .errors import CruxError

log = logging.getLogger("crux")
_VERBOSE = [0]  # set by the group's -v; with it, internal errors show their traceback


class CruxGroup(click.Group):
    """Turns crux's own errors into one line and an exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CruxError as e:
            click.echo(f"Error: {e}", err=True)
            ctx.exit(e.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)
        except BrokenPipeError:  # e.g. `crux status | head`: stop quietly
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(0)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as e:  # a bug: say what and where, keep the trace for -v
            if _VERBOSE[0]:
                raise
            first = str(e).strip().splitlines()[0] if str(e).strip() else ""
            if type(e).__module__.startswith(("_duckdb", "duckdb")):
                click.echo(
                    f"Error: database error ({type(e).__name__}: {first[:300]}); "
                    "nothing of the failed step was stored",
                    err=True,
                )
                ctx.exit(1)
            click.echo(
                f"Error: internal error ({type(e).__name__}: {first[:300]}); "
                "run again with -v for the traceback and report it",
                err=True,
            )
            ctx.exit(1)


def _resolve_db(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path:
    if value is not None:
        return value
    # the nearest enclosing group given --db: `crux --db X debates show`, `crux debates --db X show`
    from click.core import ParameterSource

    parent = ctx.parent
    while parent is not None:
        if (
            parent.params.get("db_path") is not None
            and parent.get_parameter_source("db_path") == ParameterSource.COMMANDLINE
        ):
            return Path(parent.params["db_path"])
        parent = parent.parent
    from . import config

    return Path(config.get("db"))


def db_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--db PATH`` (env ``CRUX_DB``, default ``./crux.duckdb``); also accepted before the command."""
    return click.option(
        "--db",
        "db_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        callback=_resolve_db,
        help="DuckDB file holding the corpus (env CRUX_DB, crux.toml's db; default ./crux.duckdb).",
    )(f)


def _open(db_path: Path, read_only: bool = False) -> Any:
    """A connection for a command. Read-only commands fall back to the refresh's copy."""
    from .db import connect

    if read_only and db_path.exists():
        from .db.connect import open_for_reading

        return open_for_reading(db_path, notice=lambda msg: click.echo(msg, err=True))
    return connect(db_path, read_only=read_only)


def is_terminal() -> bool:
    return sys.stderr.isatty()


@click.group(cls=CruxGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="crux")
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="DuckDB file holding the corpus, for every command (env CRUX_DB).",
)
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debug).")
def cli(db_path: Path | None, verbose: int) -> None:
    """crux: debates on forums and blogs as data (claims, forecasts, rebuttals, topics).

    Example: crux ingest feed.xml && crux publish && crux serve
    """
    _VERBOSE[0] = verbose
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if verbose < 2:
        for noisy in ("scrapy", "twisted", "filelock", "urllib3", "httpx", "datasette"):
            logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


@cli.command()
@db_option
def init(db_path: Path) -> None:
    """Create the database, or bring its schema up to date.

    Example: crux --db corpus.duckdb init
    """
    from .db import connect, ensure_schema

    con = connect(db_path, migrate=False)
    applied = ensure_schema(con)
    con.close()
    if applied:
        click.echo(f"{db_path}: applied {len(applied)} migrations ({', '.join(applied)})")
    else:
        click.echo(f"{db_path}: schema is current")


@cli.command()
@db_option
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--source",
    help="Name of the source to file the documents under "
    "(default: the feed's title, the forum's host, or the file's name).",
)
def ingest(db_path: Path, paths: tuple[Path, ...], source: str | None) -> None:
    """Ingest RSS/Atom feeds, ForumMagnum GraphQL JSON and JSON Lines files.

    Example: crux ingest feeds/*.xml lesswrong-posts.json notes.jsonl

    Folders are read recursively. Each file is one transaction; a file that can't be read or
    parsed is reported on one line, the others are still ingested, and the exit code is 1.
    """
    from tqdm import tqdm

    from .analysis.output import plural
    from .crawler.ingest import FileOutcome, ingest_paths, iter_files, shown
    from .db import record_run

    bar = tqdm(
        desc="ingest",
        unit="file",
        disable=None if is_terminal() else True,
        leave=False,
        file=sys.stderr,
    )

    def progress(out: FileOutcome) -> None:
        bar.update(1)
        if out.error:
            bar.write(f"Error: {out.error}", file=sys.stderr)
        elif out.warning:
            bar.write(
                f"Warning: {out.path}: ill-formed feed, ingested anyway ({out.warning})",
                file=sys.stderr,
            )
        for where, reason in out.rejected[:5]:
            bar.write(f"Warning: {where}: skipped ({reason})", file=sys.stderr)
        if len(out.rejected) > 5:
            bar.write(
                f"Warning: {out.path}: {len(out.rejected) - 5} more items skipped "
                "(see the _rejects table)",
                file=sys.stderr,
            )

    con = _open(db_path)
    with record_run(con, "ingest", "ingest", {"paths": [shown(p) for p in paths]}) as run:
        bar.total = sum(1 for _ in iter_files(paths))
        report = ingest_paths(con, paths, source=source, run_id=run.id, progress=progress)
        t = report.totals
        rejected = sum(len(o.rejected) for o in report.files)
        failed = len(report.failed)
        run.rows_in = t.new + t.changed + t.unchanged + rejected
        run.rows_out = t.new + t.changed
        if failed:
            run.status = "partial"
            run.error = f"{plural(failed, 'file')} failed"
    bar.close()
    con.close()
    click.echo(
        f"{plural(len(report.files), 'file')}: {t.new} new, {t.changed} changed, "
        f"{t.unchanged} unchanged documents"
        + (f", {t.held} held by other sources" if t.held else "")
        + (f", {plural(rejected, 'item')} skipped" if rejected else "")
        + (f", {plural(failed, 'file')} failed" if failed else "")
    )
    if failed:
        sys.exit(1)


@cli.command()
@db_option
def status(db_path: Path) -> None:
    """Rows per table and the last runs.

    Example: crux status
    """
    from .db import table_counts

    con = _open(db_path, read_only=True)
    counts = table_counts(con)
    width = max(len(t) for t in counts)
    for table, n in counts.items():
        click.echo(f"{table:<{width}}  {n:>10,}")
    runs = con.execute(
        "SELECT id, command, stage, started_at, finished_at, status, rows_in, rows_out, error "
        "FROM _runs ORDER BY id DESC LIMIT 8"
    ).fetchall()
    if runs:
        click.echo("\nlast runs:")
        for r in runs:
            took = f"{(r[4] - r[3]).total_seconds():.1f}s" if r[4] else "-"
            err = f"  {r[8]}" if r[8] else ""
            click.echo(
                f"  #{r[0]} {r[3]:%Y-%m-%d %H:%M:%S} {r[1]}/{r[2] or '-'} {r[5]} "
                f"in={r[6]} out={r[7]} {took}{err}"
            )
    con.close()


@cli.command("config")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def config_cmd(as_json: bool) -> None:
    """Every setting: its effective value, where the value came from, and what it does.

    Example: CRUX_THREADS=2 crux config

    Settings come from (later wins) the default, crux.toml's [crux] table (or the file named by
    CRUX_CONFIG), the CRUX_<NAME> environment variable, and a command's flag.
    """
    import json

    from . import config

    rows = config.effective()
    if as_json:
        click.echo(
            json.dumps(
                [
                    {"name": s.name, "value": v, "source": src, "env": s.env, "help": s.help}
                    for s, v, src in rows
                ],
                indent=2,
            )
        )
    else:
        width = max(len(s.name) for s, _, _ in rows)
        for s, value, source in rows:
            click.echo(f"{s.name:<{width}}  {value!s:<24} {source:<28} {s.help}")
    for key in config.unknown_keys():
        click.echo(
            f"Warning: {config._config_path()}: [crux] {key} is no crux setting (see the list above)",
            err=True,
        )


@cli.command()
@db_option
def sources(db_path: Path) -> None:
    """List sources with their last fetch, status, items and error.

    Example: crux sources
    """
    import json

    from .crawler.sources import forum_notes

    con = _open(db_path, read_only=True)
    rows = con.execute(
        "SELECT name, kind, coalesce(url, ''), enabled, last_fetch_at, coalesce(last_status, '-'), "
        "(SELECT count(*) FROM documents d WHERE d.source_id = s.id), coalesce(last_error, ''), "
        "config FROM sources s ORDER BY name"
    ).fetchall()
    con.close()
    if not rows:
        click.echo(
            "no sources yet: crux ingest FILE, crux add-feed URL or crux add-forum lesswrong"
        )
        return
    for name, kind, url, enabled, fetched, st, items, err, cfg in rows:
        when = f"{fetched:%Y-%m-%d %H:%M}" if fetched else "never fetched"
        off = "" if enabled else " (disabled)"
        click.echo(
            f"{name}{off}  [{kind}] {url}\n    {when}  status={st}  items={items}"
            + (f"  error: {err}" if err else "")
        )
        if kind == "forummagnum":
            try:
                config = json.loads(cfg or "{}")
            except ValueError:
                config = {}
            for note in forum_notes(config if isinstance(config, dict) else {}):
                click.echo(f"    {note}")


@cli.command()
@db_option
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite file to write (default: beside the database, <name>.sqlite).",
)
def publish(db_path: Path, out: Path | None) -> None:
    """Write the SQLite snapshot that Datasette serves (full-text search included).

    Example: crux publish && crux serve

    Written to a temporary file and renamed into place, so a served snapshot is never half
    written.
    """
    from .site.export import publish as do_publish

    con = _open(db_path)
    result = do_publish(con, db_path, out)
    con.close()
    click.echo(f"published {result.path} ({result.summary()})")


@cli.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, show_default=True, type=int)
@click.option(
    "--snapshot",
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite snapshot to serve (default: the one `crux publish` writes).",
)
def serve(db_path: Path, host: str, port: int, snapshot: Path | None) -> None:
    """Serve the published snapshot with Datasette, read-only.

    Example: crux serve --port 8001
    """
    from .site.export import snapshot_path
    from .site.serve import serve as do_serve

    do_serve(snapshot or snapshot_path(db_path), host=host, port=port)


@cli.command()
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="CRUX_DEMO_DB",
    default="demo.duckdb",
    show_default=True,
    help="DuckDB file for the demo corpus (env CRUX_DEMO_DB).",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, show_default=True, type=int)
@click.option("--serve/--no-serve", default=True, help="Serve the site when built (default).")
def demo(db_path: Path, host: str, port: int, serve: bool) -> None:
    """Build the bundled (fictional) demo corpus, run every stage, publish and serve it.

    Example: crux demo --port 8001
    """
    from .demo import build_demo

    build_demo(db_path, echo=click.echo)
    if serve:
        from .site.export import snapshot_path
        from .site.serve import serve as do_serve

        do_serve(snapshot_path(db_path), host=host, port=port)


from .commands import load_all as _load_commands  # noqa: E402

_load_commands()


def main() -> None:  # pragma: no cover
    cli(prog_name="crux")


if __name__ == "__main__":  # pragma: no cover
    main()
