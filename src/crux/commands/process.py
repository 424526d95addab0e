"""``crux process``: run the pending NLP and linking stages."""

from __future__ import annotations

from pathlib import Path

import click

from ..cli import _open, cli, db_option


@cli.command()
@db_option
@click.option("--stage", "stages", multiple=True, help="Run only this stage (repeatable).")
@click.option("--force", is_flag=True, help="Redo the stages for every document.")
@click.option("--limit", type=click.IntRange(min=1), help="Process at most N documents per stage.")
@click.option("--device", help="Torch device for embeddings: cpu or cuda (setting device).")
@click.option("--threads", type=click.IntRange(min=1), help="Torch threads for embeddings (setting threads).")
def process(db_path: Path, stages: tuple[str, ...], force: bool, limit: int | None,
            device: str | None = None, threads: int | None = None) -> None:
    """Run every pending pipeline stage: segment, claims, forecasts, embed, responses, claim_links.

    Example: crux process --stage segment --limit 100

    Each stage works only on documents it has not processed in their current version, so a
    second run does no work.
    """
    from ..pipeline import run

    con = _open(db_path)
    try:
        run(con, list(stages) or None, device=device, threads=threads, limit=limit, force=force,
            echo=click.echo)
    finally:
        con.close()
