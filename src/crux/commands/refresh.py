"""``crux refresh`` and ``crux schedule``: the unattended job and how to schedule it."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from ..cli import cli, db_option, is_terminal


@cli.command()
@db_option
@click.option(
    "--refit-topics",
    is_flag=True,
    help="Refit the topic model (default: only assign new items, "
    "refitting when the corpus grew by the configured share).",
)
@click.option("--max-items", type=click.IntRange(min=1), help="Crawl at most N items per source.")
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append log lines and the summary to this file.",
)
def refresh(
    db_path: Path, refit_topics: bool, max_items: int | None, log_file: Path | None
) -> None:
    """Crawl, process, link, assign topics and republish: the job to run from cron.

    Example: crux refresh --log-file refresh.log

    Exit codes: 0 done, 1 failed, 75 temporary (another refresh holds the lock, network
    down). On a terminal it shows progress; otherwise it prints only errors and one summary line.
    """
    from ..refresh import refresh as run_refresh

    if log_file:
        handler = logging.FileHandler(log_file)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger().addHandler(handler)
        if logging.getLogger().level > logging.INFO:
            logging.getLogger().setLevel(logging.INFO)
            for h in logging.getLogger().handlers:
                if h is not handler:
                    h.setLevel(logging.WARNING)
    tty = is_terminal()

    def echo(msg: str) -> None:
        click.echo(msg, err=msg.startswith("Error"))

    report = run_refresh(
        db_path, refit_topics=refit_topics, max_items=max_items, progress=tty, echo=echo
    )
    summary = report.summary()
    logging.getLogger("crux.refresh").info(summary)
    click.echo(summary, err=report.exit_code != 0)
    sys.exit(report.exit_code)


@cli.command()
@db_option
@click.option(
    "--cron", "cron_spec", metavar="SPEC", help='Print a crontab line, e.g. --cron "0 * * * *".'
)
@click.option("--systemd", is_flag=True, help="Print a systemd service and timer unit.")
@click.option(
    "--on-calendar", default="hourly", show_default=True, help="systemd OnCalendar= value."
)
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("refresh.log"),
    show_default=True,
)
def schedule(
    db_path: Path, cron_spec: str | None, systemd: bool, on_calendar: str, log_file: Path
) -> None:
    """Print a crontab line or systemd units that run `crux refresh`.

    Example: crux schedule --cron "0 * * * *" >> my-crontab
    """
    from ..refresh import schedule_cron, schedule_systemd

    if bool(cron_spec) == systemd:
        raise click.UsageError("Use exactly one of --cron SPEC and --systemd")
    if cron_spec:
        if len(cron_spec.split()) != 5 and not cron_spec.startswith("@"):
            raise click.UsageError(f"--cron takes 5 fields or an @keyword, got {cron_spec!r}")
        click.echo(schedule_cron(cron_spec, db_path=db_path, log_file=log_file))
    else:
        click.echo(
            schedule_systemd(db_path=db_path, log_file=log_file, on_calendar=on_calendar), nl=False
        )
