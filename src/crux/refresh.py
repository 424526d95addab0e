"""``crux refresh``: crawl → process → topics → publish, for cron and systemd timers.

Safe to run unattended:

- **One at a time.** A non-blocking ``flock`` on ``<db>.lock`` beside the database. A second
  refresh exits 75 at once ("another refresh is running (pid N since T)"). The kernel drops
  the lock when its process dies, so a stale lock file from a killed run is simply taken
  over; ``_runs`` rows the dead run left ``running`` are marked ``abandoned``.
- **Crash safe.** Every write is a transaction (per file, per crawl batch, per stage batch);
  DuckDB's write-ahead log makes a killed process's committed work durable and its open
  transaction vanish. The snapshot is written to a temporary file and renamed. The next
  refresh resumes from the stage state, so its result equals an uninterrupted run's.
- **Readers keep working.** At the end, the database is checkpointed and copied to
  ``<db>.readonly.duckdb`` (temp file + rename). While a refresh holds the database, read
  commands open that copy and say so.

Exit codes: 0 done, 1 failed, 75 temporary (lock held, network down).
"""

from __future__ import annotations

import fcntl
import importlib.util
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import BusyError, CruxError, TemporaryError

log = logging.getLogger(__name__)

EX_TEMPFAIL = 75


def lock_path(db_path: str | os.PathLike[str]) -> Path:
    return Path(str(db_path) + ".lock")


def readonly_copy_path(db_path: str | os.PathLike[str]) -> Path:
    p = Path(db_path)
    return p.with_name(p.stem + ".readonly.duckdb")


@contextmanager
def refresh_lock(db_path: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold the refresh lock of ``db_path``, or raise :class:`BusyError` at once."""
    path = lock_path(db_path)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").split()
            pid, since = (holder + ["?", "?"])[:2]
            raise BusyError(
                f"another refresh is running (pid {pid} since {since}); "
                "try again when it has finished"
            ) from None
        os.ftruncate(fd, 0)
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        os.pwrite(fd, f"{os.getpid()} {stamp}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)  # closing releases the flock


def copy_for_readers(
    con: Any, db_path: str | os.PathLike[str], *, quiet: bool = False
) -> Path | None:
    """Checkpoint and copy the database for readers to use during the next refresh.

    ``quiet``: a step already failed and said why; a failed checkpoint is then only logged."""
    if str(db_path) == ":memory:":
        return None
    try:
        con.execute("CHECKPOINT")
    except Exception as e:  # disk full, read-only: the step that failed already said so
        log.log(
            logging.INFO if quiet else logging.WARNING,
            "could not checkpoint the database for readers: %s",
            str(e).splitlines()[0][:200],
        )
        return None
    target = readonly_copy_path(db_path)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        shutil.copyfile(db_path, tmp)
        os.replace(tmp, target)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        log.warning("could not copy the database for readers: %s", e)
        return None
    return target


@dataclass
class StepResult:
    name: str
    status: str = "ok"  # ok | skipped | partial | failed | temporary
    summary: str = ""
    seconds: float = 0.0


@dataclass
class RefreshReport:
    steps: list[StepResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        if any(s.status in ("failed", "partial") for s in self.steps):
            return 1
        if any(s.status == "temporary" for s in self.steps):
            return EX_TEMPFAIL
        return 0

    def summary(self) -> str:
        parts = [
            f"{s.name} {s.status}" + (f" ({s.summary})" if s.summary else "") for s in self.steps
        ]
        state = {0: "done", 1: "FAILED", EX_TEMPFAIL: "temporary failure"}[self.exit_code]
        return f"refresh {state} in {self.seconds:.1f}s: " + "; ".join(parts)


def mark_abandoned(con: Any) -> int:
    """``_runs`` rows left ``running`` by a dead process become ``abandoned``."""
    rows = con.execute(
        "UPDATE _runs SET status = 'abandoned', finished_at = now() "
        "WHERE status = 'running' RETURNING 1"
    ).fetchall()
    return len(rows)


Step = Callable[[Any], str]


def run_refresh(
    db_path: str | os.PathLike[str],
    steps: list[tuple[str, Step]],
    *,
    echo: Callable[[str], Any] = print,
) -> RefreshReport:
    """Run ``steps`` (name, function(con) -> summary) under the lock; never raises for a step."""
    from .db import connect, record_run

    report = RefreshReport()
    t0 = time.perf_counter()
    with refresh_lock(db_path):
        con = connect(db_path)
        try:
            abandoned = mark_abandoned(con)
            if abandoned:
                log.warning("marked %d runs of an interrupted refresh as abandoned", abandoned)
            with record_run(con, "refresh", None) as run:
                for name, fn in steps:
                    step = StepResult(name)
                    t = time.perf_counter()
                    try:
                        step.summary = fn(con) or ""
                        for status in ("skipped", "partial"):
                            if step.summary.startswith(status + ":"):
                                step.status = status
                                step.summary = step.summary[len(status) + 1 :].strip()
                    except TemporaryError as e:
                        step.status, step.summary = "temporary", str(e)
                    except CruxError as e:
                        step.status, step.summary = (
                            ("temporary" if e.exit_code == EX_TEMPFAIL else "failed"),
                            str(e),
                        )
                    except Exception as e:  # a bug in one step: record it, stop the run
                        step.status = "failed"
                        step.summary = (
                            f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"
                        )
                        log.debug("step %s failed", name, exc_info=True)
                    step.seconds = time.perf_counter() - t
                    report.steps.append(step)
                    if step.status in ("failed", "temporary"):
                        echo(f"Error: {name}: {step.summary}")
                        break
                    if step.status == "partial":
                        echo(f"Error: {name}: {step.summary}")
                run.status = {0: "ok", 1: "failed", EX_TEMPFAIL: "temporary"}[report.exit_code]
                run.error = (
                    "; ".join(
                        f"{s.name}: {s.summary}"
                        for s in report.steps
                        if s.status in ("failed", "temporary", "partial")
                    )
                    or None
                )
                run.rows_out = len(report.steps)
            copy_for_readers(con, db_path, quiet=report.exit_code != 0)
        finally:
            con.close()
    report.seconds = time.perf_counter() - t0
    return report


def steps(
    db_path: str | os.PathLike[str],
    *,
    refit_topics: bool = False,
    max_items: int | None = None,
    progress: bool = False,
    echo: Callable[[str], Any] | None = None,
) -> list[tuple[str, Step]]:
    """The refresh's steps, each ``(name, fn(con) -> summary)``; a step says 'skipped: why'."""

    def crawl(con: Any) -> str:
        from .crawler import run as crawl_run

        n = con.execute(
            "SELECT count(*) FROM sources WHERE enabled AND kind IN ('feed', 'forummagnum')"
        ).fetchone()[0]
        if not n:
            return "skipped: no feed or forum sources (crux add-feed, crux add-forum)"
        report = crawl_run.crawl(con, max_items=max_items, progress=progress)
        if report.sources and len(report.failed) == len(report.sources):
            raise TemporaryError(
                f"every source failed ({report.failed[0].error}); "
                "is the network down? the next refresh will try again"
            )
        return ("partial: " if report.failed else "") + report.summary()

    def process(con: Any) -> str:
        from .pipeline import run

        results = run(con, progress=progress, echo=echo if progress else None)
        done = sum(r.docs for r in results)
        return (
            f"{len(results)} stages, {done} document-stage runs"
            if results
            else "skipped: no stages"
        )

    def topics(con: Any) -> str:
        if importlib.util.find_spec("bertopic") is None:
            return "skipped: topic modelling is not installed (pip install 'crux[topics]')"
        from .analysis import topics as topics_mod

        return topics_mod.refresh_topics(con, refit=refit_topics, progress=progress)

    def publish(con: Any) -> str:
        from .site.export import publish as do_publish

        return do_publish(con, db_path).summary()

    return [("crawl", crawl), ("process", process), ("topics", topics), ("publish", publish)]


def refresh(
    db_path: str | os.PathLike[str],
    *,
    refit_topics: bool = False,
    max_items: int | None = None,
    progress: bool = False,
    echo: Callable[[str], Any] = print,
) -> RefreshReport:
    """Crawl, process, assign topics and publish ``db_path`` under the refresh lock."""
    return run_refresh(
        db_path,
        steps(
            db_path, refit_topics=refit_topics, max_items=max_items, progress=progress, echo=echo
        ),
        echo=echo,
    )


def schedule_cron(spec: str, *, db_path: Path, log_file: Path) -> str:
    """A crontab line that runs ``crux refresh`` with absolute paths and its environment."""
    crux = Path(sys.executable).with_name("crux")
    env = " ".join(f"{k}={v}" for k, v in _env_for_schedule().items())
    return (
        f"{spec} cd {Path.cwd()} && {env} {crux} refresh --db {db_path.resolve()} "
        f"--log-file {log_file.resolve()} >/dev/null"
    )  # stderr (errors only) reaches cron's mail


def schedule_systemd(*, db_path: Path, log_file: Path, on_calendar: str = "hourly") -> str:
    """A systemd service and timer (``Persistent=true``) running ``crux refresh``."""
    crux = Path(sys.executable).with_name("crux")
    env = "\n".join(f"Environment={k}={v}" for k, v in _env_for_schedule().items())
    return f"""# /etc/systemd/system/crux-refresh.service
[Unit]
Description=Refresh the crux corpus
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
WorkingDirectory={Path.cwd()}
{env}
ExecStart={crux} refresh --db {db_path.resolve()} --log-file {log_file.resolve()}
# 75 means "try later" (lock held, network down): not a failure for systemd
SuccessExitStatus=75
Nice=10
IOSchedulingClass=idle
TimeoutStartSec=3h

# /etc/systemd/system/crux-refresh.timer
[Unit]
Description=Refresh the crux corpus on a schedule

[Timer]
OnCalendar={on_calendar}
RandomizedDelaySec=5m
Persistent=true

[Install]
WantedBy=timers.target
"""


def _env_for_schedule() -> dict[str, str]:
    env = {"HF_HUB_OFFLINE": "1", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for key in sorted(os.environ):
        if key.startswith("CRUX_") and key not in ("CRUX_DB", "CRUX_SHARED", "CRUX_BROWSER"):
            env[key] = os.environ[key]
    return env
