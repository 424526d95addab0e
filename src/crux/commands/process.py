"""``crux process``: run the pending NLP and linking stages."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ..cli import _open, cli, db_option, is_terminal


def make_progress(enabled: bool):
    """A progress factory for Stage.run: a tqdm bar per stage on a terminal, nothing otherwise."""
    if not enabled:
        return None
    from tqdm import tqdm

    def factory(name: str, total: int):
        bar = tqdm(total=total, desc=name, unit="doc", file=sys.stderr, leave=False)
        return bar.update
    return factory


def run_stages(con, names: list[str] | None = None, *, force: bool = False,
               limit: int | None = None, progress: bool | None = None, echo=click.echo) -> list:
    """Run the named stages (default: all available), in pipeline order; return their results."""
    from ..errors import CruxError
    from ..pipeline import available_stages

    stages = available_stages()
    unknown = [n for n in names or [] if n not in stages]
    if unknown:
        raise CruxError(f"unknown stage {unknown[0]!r}; choose from: {', '.join(stages) or 'none yet'}")
    chosen = [n for n in stages if not names or n in names]
    results = []
    factory = make_progress(is_terminal() if progress is None else progress)
    for name in chosen:
        result = stages[name]().run(con, limit=limit, force=force, progress=factory)
        results.append(result)
        echo(result.summary())
    return results


def _check_stages(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    """An unknown ``--stage`` is a usage error (exit 2), caught before the database opens."""
    from ..pipeline import available_stages

    stages = available_stages()
    unknown = [n for n in value if n not in stages]
    if unknown:
        raise click.BadParameter(f"unknown stage {unknown[0]!r}; choose from: {', '.join(stages) or 'none yet'}")
    return value


def _check_device(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--device``: cpu, cuda, cuda:N or mps; anything else is a usage error (exit 2)."""
    import re

    if value is not None and not re.fullmatch(r"cpu|cuda(:\d+)?|mps", value):
        raise click.BadParameter(f"{value!r}: use cpu, cuda, cuda:N or mps")
    return value


@cli.command()
@db_option
@click.option("--stage", "stages", multiple=True, callback=_check_stages,
              help="Run only this stage (repeatable).")
@click.option("--force", is_flag=True, help="Redo the stages for every document.")
@click.option("--limit", type=click.IntRange(min=1), help="Process at most N documents per stage.")
@click.option("--device", callback=_check_device, help="Torch device for embeddings: cpu or cuda (setting device).")
@click.option("--threads", type=click.IntRange(min=1), help="Torch threads for embeddings (setting threads).")
def process(db_path: Path, stages: tuple[str, ...], force: bool, limit: int | None,
            device: str | None = None, threads: int | None = None) -> None:
    """Run every pending pipeline stage: segment, claims, forecasts, embed, responses, claim_links.

    Example: crux process --stage segment --limit 100

    Each stage works only on documents it has not processed in their current version, so a
    second run does no work.
    """
    # Flags win over CRUX_* variables and crux.toml: pass them as variables for this run.
    flags = {"CRUX_DEVICE": device, "CRUX_THREADS": None if threads is None else str(threads)}
    saved = {k: os.environ.get(k) for k, v in flags.items() if v is not None}
    os.environ.update({k: v for k, v in flags.items() if v is not None})
    con = _open(db_path)
    try:
        run_stages(con, list(stages) or None, force=force, limit=limit)
    finally:
        con.close()
        for k, old_value in saved.items():
            if old_value is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = old_value
