"""``crux process``: run the pending NLP and linking stages."""

from __future__ import annotations

from pathlib import Path

import click

from ..cli import _open, cli, db_option


def _check_stages(
    ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
) -> tuple[str, ...]:
    """An unknown ``--stage`` is a usage error (exit 2), caught before the database opens."""
    from ..pipeline import available_stages

    stages = available_stages()
    unknown = [n for n in value if n not in stages]
    if unknown:
        raise click.BadParameter(
            f"unknown stage {unknown[0]!r}; choose from: {', '.join(stages) or 'none yet'}"
        )
    return value


def _check_device(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--device``: cpu, cuda, cuda:N or mps; anything else is a usage error (exit 2)."""
    import re

    if value is not None and not re.fullmatch(r"cpu|cuda(:\d+)?|mps", value):
        raise click.BadParameter(f"{value!r}: use cpu, cuda, cuda:N or mps")
    return value


@cli.command()
@db_option
@click.option(
    "--stage",
    "stages",
    multiple=True,
    callback=_check_stages,
    help="Run only this stage (repeatable).",
)
@click.option("--force", is_flag=True, help="Redo the stages for every document.")
@click.option("--limit", type=click.IntRange(min=1), help="Process at most N documents per stage.")
@click.option(
    "--device",
    callback=_check_device,
    help="Torch device for embeddings: cpu or cuda (setting device).",
)
@click.option(
    "--threads", type=click.IntRange(min=1), help="Torch threads for embeddings (setting threads)."
)
def process(
    db_path: Path,
    stages: tuple[str, ...],
    force: bool,
    limit: int | None,
    device: str | None = None,
    threads: int | None = None,
) -> None:
    """Run every pending pipeline stage: segment, claims, forecasts, embed, responses, claim_links.

    Example: crux process --stage segment --limit 100

    Each stage works only on documents it has not processed in their current version, so a
    second run does no work.
    """
    from ..pipeline import run

    con = _open(db_path)
    try:
        run(
            con,
            list(stages) or None,
            device=device,
            threads=threads,
            limit=limit,
            force=force,
            echo=click.echo,
        )
    finally:
        con.close()
