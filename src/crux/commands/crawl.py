"""Sources and crawling: ``add-feed``, ``add-forum``, ``import-opml``, ``export-opml``,
``remove-source``, ``crawl``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..cli import _open, cli, db_option, is_terminal


def _input_errors(fn):  # type: ignore[no-untyped-def]
    """Run ``fn``; crux's InputError becomes a one-line usage-free error (exit 1)."""
    from ..errors import InputError

    try:
        return fn()
    except InputError as e:
        raise click.ClickException(str(e)) from None


def _check_since(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A ``--since`` that is not a date is a usage error (exit 2)."""
    from ..crawler.sources import parse_date
    from ..errors import InputError

    if value:
        try:
            parse_date(value)
        except InputError:
            raise click.BadParameter(
                f"{value!r} is not a date; use YYYY-MM-DD or 2024-05-01T12:00:00Z"
            ) from None
    return value


@cli.command("add-feed")
@db_option
@click.argument("url")
@click.option("--name", help="Name of the source (default: the feed's host and path).")
@click.option(
    "--fetch-articles",
    is_flag=True,
    help="When an entry carries only a summary, fetch the linked page and keep its main text.",
)
def add_feed(db_path: Path, url: str, name: str | None, fetch_articles: bool) -> None:
    """Add an RSS/Atom feed to crawl.

    Example: crux add-feed https://example.substack.com/feed --name "Example"

    Adding a feed that is already there under the same name updates its options.
    """
    from ..crawler.sources import add_feed as do_add

    con = _open(db_path)
    try:
        sid, created = _input_errors(
            lambda: do_add(con, url, name=name, fetch_articles=fetch_articles)
        )
        row = con.execute("SELECT name FROM sources WHERE id = ?", [sid]).fetchone()
    finally:
        con.close()
    click.echo(
        f"{'added' if created else 'updated'} feed {row[0]!r} ({url}); crawl it with: crux crawl"
    )


@cli.command("add-forum")
@db_option
@click.argument("site")
@click.option("--name", help="Name of the source (default: the forum's short name or host).")
@click.option(
    "--since",
    callback=_check_since,
    help="Crawl posts from this date on (YYYY-MM-DD); default: all.",
)
@click.option(
    "--comments/--no-comments", default=True, show_default=True, help="Fetch each post's comments."
)
@click.option(
    "--api-style",
    type=click.Choice(["legacy", "selector"]),
    help="GraphQL argument style to try first (default: legacy for the EA Forum and "
    "unknown sites, selector for LessWrong and the Alignment Forum); the other one "
    "is tried when the site refuses it.",
)
@click.option(
    "--lookback-days",
    type=click.FloatRange(min=0),
    default=None,
    help="Re-read posts this many days before the newest one seen (default 7).",
)
@click.option(
    "--sweep-every-days",
    type=float,
    default=None,
    help="List every older post to catch edits, comments and deletions: 0 = on every "
    "crawl (default), N = at most every N days, -1 = never.",
)
def add_forum(
    db_path: Path,
    site: str,
    name: str | None,
    since: str | None,
    comments: bool,
    api_style: str | None,
    lookback_days: float | None,
    sweep_every_days: float | None,
) -> None:
    """Add a ForumMagnum forum: lesswrong, eaforum, alignmentforum or a site URL.

    Example: crux add-forum lesswrong --since 2024-01-01

    Posts are paged by date through the site's GraphQL API; later crawls ask only for posts
    newer than the last one seen, minus a look-back window for edits and new comments, and a
    sweep lists every older post to fetch again those edited, commented or deleted since. The
    argument style is detected: if the site refuses one, crux tries the other and stores it.
    """
    from ..crawler.sources import add_forum as do_add
    from ..crawler.sources import parse_date

    con = _open(db_path)
    try:

        def go():  # type: ignore[no-untyped-def]
            when = parse_date(since) if since else None
            return do_add(
                con,
                site,
                name=name,
                since=when,
                comments=comments,
                api_style=api_style,
                lookback_days=lookback_days,
                sweep_every_days=sweep_every_days,
            )

        sid, created = _input_errors(go)
        row = con.execute("SELECT name, url FROM sources WHERE id = ?", [sid]).fetchone()
    finally:
        con.close()
    click.echo(
        f"{'added' if created else 'updated'} forum {row[0]!r} ({row[1]}); crawl it with: crux crawl"
    )


@cli.command("import-opml")
@db_option
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def import_opml(db_path: Path, file: Path) -> None:
    """Add the feeds of an OPML file (as feed readers export them).

    Example: crux import-opml subscriptions.opml

    Feeds already present (same URL) are left as they are.
    """
    from ..crawler.sources import import_opml as do_import

    con = _open(db_path)
    try:
        out = _input_errors(lambda: do_import(con, file))
    finally:
        con.close()
    for _url, reason in out.skipped[:5]:
        click.echo(f"Warning: skipped {reason}", err=True)
    click.echo(
        f"{file}: {len(out.added)} feeds added, {len(out.present)} already present"
        + (f", {len(out.skipped)} skipped" if out.skipped else "")
    )


@cli.command("export-opml")
@db_option
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: standard output).",
)
def export_opml(db_path: Path, out: Path | None) -> None:
    """Write the feed sources as OPML 2.0.

    Example: crux export-opml --out feeds.opml
    """
    from ..crawler.sources import export_opml as do_export

    con = _open(db_path)
    try:
        text = do_export(con)
    finally:
        con.close()
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as e:
        raise click.ClickException(
            f"{out}: cannot write ({e.strerror or e}); check the folder"
        ) from None
    click.echo(f"wrote {text.count('<outline ')} feeds to {out}", err=True)


@cli.command("remove-source")
@db_option
@click.argument("name")
@click.option(
    "--purge",
    is_flag=True,
    help="Also delete the source's documents and what was derived from them.",
)
def remove_source(db_path: Path, name: str, purge: bool) -> None:
    """Remove a source; its documents stay unless --purge.

    Example: crux remove-source "Example blog" --purge
    """
    from ..crawler.sources import remove_source as do_remove

    con = _open(db_path)
    try:
        out = _input_errors(lambda: do_remove(con, name, purge=purge))
    finally:
        con.close()
    if purge:
        extra = "".join(f", {n} {t} rows" for t, n in sorted(out.other_rows.items()))
        click.echo(f"removed {name!r} and purged {out.purged} documents{extra}")
    else:
        click.echo(
            f"removed {name!r}; its {out.documents} documents stay (use --purge to delete them)"
        )


@cli.command()
@db_option
@click.option("--source", "sources", multiple=True, help="Crawl only this source (repeatable).")
@click.option(
    "--since",
    callback=_check_since,
    help="Ask forums for posts from this date on (YYYY-MM-DD), ignoring the watermark; "
    "skip older feed entries.",
)
@click.option(
    "--max-items", type=click.IntRange(min=1), help="Store at most N documents per source."
)
def crawl(
    db_path: Path, sources: tuple[str, ...], since: str | None, max_items: int | None
) -> None:
    """Fetch every enabled feed and forum source (new and changed documents only).

    Example: crux crawl --source lesswrong --max-items 200

    Feeds are asked with their stored ETag/Last-Modified; forums only for posts after the last
    one seen (minus a look-back window). The crawl obeys robots.txt, waits between requests to
    one host and honours Retry-After. A failing source does not stop the others; its error is
    shown here and by `crux sources`, and the exit code is 1.
    """
    from ..crawler.run import crawl as do_crawl
    from ..crawler.sources import parse_date

    when = _input_errors(lambda: parse_date(since)) if since else None
    report = _input_errors(
        lambda: do_crawl(
            db_path, list(sources) or None, since=when, max_items=max_items, progress=is_terminal()
        )
    )
    for s in report.failed:
        click.echo(f"Error: {s.name}: {s.error}", err=True)
    click.echo(report.summary())
    if report.failed:
        sys.exit(1)
