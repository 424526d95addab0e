"""``crux debates``: the debates of :mod:`crux.analysis.debates`, and one document's exchanges."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click

from ..analysis import debates as model
from ..cli import _open, cli, db_option

CLAIM_RELATIONS = ("attacks", "supports")


def _no_db(db_path: Path) -> click.ClickException:
    return click.ClickException(
        f"{db_path}: no such database; create it with `crux ingest` or pass --db"
    )


@cli.group(invoke_without_command=True)
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def debates(ctx: click.Context, db_path: Path, as_json: bool) -> None:
    """List debates: documents and outside works connected by responses and claim links.

    Example: crux debates --json

    A debate is a connected component of documents and the outside works they answer (link
    targets with no document), joined by responses other than plain citations and by claim
    links; the site's /debates page lists the same ones. `crux debates show DOC` shows one.
    """
    if ctx.invoked_subcommand is not None:
        return
    if not db_path.exists():
        raise _no_db(db_path)
    con = _open(db_path, read_only=True)
    try:
        comps = [d.summary() for d in model.debates(con)]
    finally:
        con.close()
    if as_json:
        click.echo(json.dumps(comps, indent=2))
        return
    if not comps:
        click.echo("0 debates (run `crux process` to find responses)")
        return
    width = shutil.get_terminal_size((100, 20)).columns
    tw = max(20, width - 50)
    for c in comps:
        dates = f"{(c['first'] or '?')[:10]} – {(c['last'] or '?')[:10]}"
        outside = f"+{c['outside']} outside" if c["outside"] else ""
        click.echo(
            f"{c['documents']:>4} docs {outside:<11} {c['posts']:>3} posts  {dates:<23} "
            f"{str(c['title'])[:tw]}"
        )
    click.echo(f"{len(comps)} debate{'' if len(comps) == 1 else 's'}")


@debates.command("show")
@db_option
@click.argument("doc")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the debate as an argument graph in JSON."
)
@click.option("--graphml", is_flag=True, help="Print the debate as an argument graph in GraphML.")
@click.option(
    "--all",
    "show_all",
    is_flag=True,
    help=f"Show claim links scored below the default cut-off ({model.MIN_CLAIM_LINK_SCORE:.2f}).",
)
@click.option(
    "--relation", type=click.Choice(CLAIM_RELATIONS), help="Only claim links of this relation."
)
def debates_show(
    db_path: Path, doc: str, as_json: bool, graphml: bool, show_all: bool, relation: str | None
) -> None:
    """Show what a document answers, what answers it, and its claim links, with scores.

    Example: crux debates show https://forum.example/posts/abc/contra-x --graphml > debate.graphml

    DOC is a document id or URL. Every response and claim link shows its relation, method and
    score; claim links scored below the cut-off are hidden unless --all. --json and --graphml
    print the whole debate DOC belongs to: documents, outside works, claims and quoted passages
    as nodes, responses and claim links as typed, scored edges.
    """
    if as_json and graphml:
        raise click.UsageError("Use only one of --json and --graphml")
    if not db_path.exists():
        raise _no_db(db_path)
    con = _open(db_path, read_only=True)
    try:
        doc_id = model.resolve(con, doc)
        if doc_id is None:
            raise click.ClickException(
                f"no document with id or URL {doc!r}; list ids with `crux debates --json`"
            )
        if as_json or graphml:
            graph = model.debate_graph(con, doc_id)
            if graph is None:
                raise click.ClickException(
                    f"document {doc_id} is in no debate; "
                    f"`crux debates show {doc_id}` shows its links"
                )
            click.echo(
                json.dumps(graph, indent=2) if as_json else model.to_graphml(graph), nl=False
            )
            if as_json:
                click.echo()
            return
        width = shutil.get_terminal_size((100, 20)).columns
        click.echo(
            model.show_text(
                con,
                doc_id,
                width,
                relation=relation,
                min_score=0.0 if show_all else model.MIN_CLAIM_LINK_SCORE,
            )
        )
    finally:
        con.close()
