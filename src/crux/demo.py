"""``crux demo``: the bundled, fictional demo corpus, built with every stage and published."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEMO_DIR = Path(__file__).parent / "data" / "demo"


def build_demo(db_path: str | os.PathLike[str], *, echo: Callable[[str], Any] = print) -> Path:
    """Ingest the demo corpus into ``db_path``, run the stages, publish; return the snapshot."""
    from .crawler.ingest import ingest_paths
    from .db import connect, record_run
    from .errors import CruxError
    from .site.export import publish

    con = connect(db_path)
    try:
        with record_run(con, "demo", "ingest") as run:
            report = ingest_paths(con, [DEMO_DIR], run_id=run.id)
            run.rows_out = report.totals.new + report.totals.changed
        if report.failed:
            raise CruxError("the bundled demo corpus did not ingest: " + report.failed[0].error)
        echo(f"demo corpus: {report.summary()}")
        result = publish(con, db_path)
        echo(f"published {result.path} ({result.summary()})")
    finally:
        con.close()
    return result.path
