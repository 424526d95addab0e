"""``crux debates``: debates as connected components of responses, and one document's exchanges."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path
from typing import Any

import click

from ..cli import _open, cli, db_option
from ..graph import connected_components


def debate_components(con: Any) -> list[dict[str, Any]]:
    """Connected components of documents joined by responses other than ``cites`` (largest first)."""
    edges = con.execute("SELECT source_id, coalesce(target_id, target_key) FROM responses "
                        "WHERE relation <> 'cites'").fetchall()
    groups = connected_components(edges)
    every = [x for g in groups for x in g]
    meta = {r[0]: r[1:] for r in con.execute(
        "SELECT id, kind, title, published_at, post_id FROM documents WHERE id IN (SELECT unnest(?))",
        [every]).fetchall()}
    out = []
    for members in groups:
        docs = [m for m in members if m in meta]
        posts = [m for m in docs if meta[m][0] == "post"]
        dates = [meta[m][2] for m in docs if meta[m][2] is not None]
        first = min(posts or docs or members, key=lambda m: (meta[m][2] is None, meta[m][2]) if m in meta else (True, None))
        out.append({
            "root": first, "title": meta[first][1] if first in meta else first,
            "documents": len(members), "posts": len(posts), "comments": len(docs) - len(posts),
            "outside": len(members) - len(docs),
            "first": min(dates).isoformat() if dates else None, "last": max(dates).isoformat() if dates else None,
            "members": sorted(members),
        })
    out.sort(key=lambda d: (-d["documents"], d["first"] or ""))
    return out


def _resolve(con: Any, ref: str) -> str | None:
    from ..htmltext import url_key
    row = con.execute("SELECT id FROM documents WHERE id = ?", [ref]).fetchone()
    if row:
        return str(row[0])
    key = url_key(ref) if "://" in ref else None
    if key:
        row = con.execute("SELECT id FROM documents WHERE url_key = ? ORDER BY id LIMIT 1", [key]).fetchone()
        if row:
            return str(row[0])
    return None


def _label(con: Any, doc_id: str | None, fallback: str | None) -> str:
    if doc_id:
        r = con.execute("SELECT kind, title, author FROM documents WHERE id = ?", [doc_id]).fetchone()
        if r:
            what = r[1] or f"comment {doc_id}"
            return f"{what} ({r[2] or 'unknown'})"
    return f"{fallback} (not in the corpus)"


def show(con: Any, doc_id: str, width: int) -> str:
    lines = [_label(con, doc_id, doc_id), ""]
    out = con.execute("SELECT target_id, target_url, relation, score FROM responses WHERE source_id = ? "
                      "ORDER BY relation = 'cites', score DESC", [doc_id]).fetchall()
    inc = con.execute("SELECT source_id, relation, score FROM responses WHERE target_id = ? "
                      "ORDER BY relation = 'cites', score DESC", [doc_id]).fetchall()
    lines.append("Answers:" if out else "Answers: nothing")
    for tid, url, rel, score in out:
        lines.append(f"  {rel:8} {score:.2f}  {_label(con, tid, url)}")
    lines.append("Answered by:" if inc else "Answered by: nothing")
    for sid, rel, score in inc:
        lines.append(f"  {rel:8} {score:.2f}  {_label(con, sid, sid)}")
    pairs = con.execute(
        "SELECT s.text, coalesce(t.text, l.target_text), l.relation, l.method, l.score, "
        "l.source_document_id = ? AS outgoing FROM claim_links l JOIN sentences s ON s.id = l.source_sentence_id "
        "LEFT JOIN sentences t ON t.id = l.target_sentence_id "
        "WHERE l.source_document_id = ? OR l.target_document_id = ? ORDER BY outgoing DESC, s.position",
        [doc_id, doc_id, doc_id]).fetchall()
    if pairs:
        col = max(20, (width - 3) // 2)
        lines += ["", f"Claim links ({len(pairs)}):", f"{'this document' :<{col}} | the other side"]
        for stext, ttext, rel, method, score, outgoing in pairs:
            left, right = (stext, ttext) if outgoing else (ttext, stext)
            head = f"[{rel} {'→' if outgoing else '←'} {method} {score:.2f}]"
            lines.append("-" * min(width, 2 * col + 3))
            lines.append(head)
            a = textwrap.wrap(left or "", col) or [""]
            b = textwrap.wrap(right or "", col) or [""]
            for i in range(max(len(a), len(b))):
                lines.append(f"{(a[i] if i < len(a) else ''):<{col}} | {b[i] if i < len(b) else ''}")
    return "\n".join(lines)


@cli.group(invoke_without_command=True)
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def debates(ctx: click.Context, db_path: Path, as_json: bool) -> None:
    """List debates: documents connected by responses (rebuts, supports, extends).

    Example: crux debates --json

    A debate is a connected component of documents joined by responses other than plain
    citations, with its size and date range. `crux debates show DOC` shows one document.
    """
    if ctx.invoked_subcommand is not None:
        return
    if not db_path.exists():
        raise click.ClickException(f"{db_path}: no such database; create it with `crux ingest` or pass --db")
    con = _open(db_path, read_only=True)
    try:
        comps = debate_components(con)
    finally:
        con.close()
    if as_json:
        click.echo(json.dumps(comps, indent=2))
        return
    if not comps:
        click.echo("0 debates (run `crux process` to find responses)")
        return
    width = shutil.get_terminal_size((100, 20)).columns
    tw = max(20, width - 44)
    for c in comps:
        dates = f"{c['first'] or '?'} – {c['last'] or '?'}"
        click.echo(f"{c['documents']:>4} docs {c['posts']:>3} posts  {dates:<25} {str(c['title'])[:tw]}")
    click.echo(f"{len(comps)} debates")


@debates.command("show")
@db_option
@click.argument("doc")
def debates_show(db_path: Path, doc: str) -> None:
    """Show what a document answers, what answers it, and the claim-level pairs.

    Example: crux debates show https://forum.example/posts/abc/contra-x

    DOC is a document id or URL.
    """
    if not db_path.exists():
        raise click.ClickException(f"{db_path}: no such database; create it with `crux ingest` or pass --db")
    con = _open(db_path, read_only=True)
    try:
        doc_id = _resolve(con, doc)
        if doc_id is None:
            raise click.ClickException(f"no document with id or URL {doc!r}; list ids with `crux debates --json`")
        width = shutil.get_terminal_size((100, 20)).columns
        click.echo(show(con, doc_id, width))
    finally:
        con.close()
