"""``crux demo``: the bundled, fictional demo corpus, built with every stage and published."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEMO_DIR = Path(__file__).parent / "data" / "demo"
# A few fictional resolutions, by sentence text (the forecast keys exist once the stages ran).
DEMO_RESOLUTIONS = Path(__file__).parent / "data" / "demo_resolutions.csv"
# Source names for the demo's files (feeds would otherwise be named by their titles, the
# forum export by its host).
DEMO_SOURCES = {
    "forum.json": "Crux Demo Forum",
    "forum-comments.json": "Crux Demo Forum",
    "blog.rss.xml": "Marginal Filtration",
    "notes.atom.xml": "Quiet Priors",
}


def build_demo(db_path: str | os.PathLike[str], *, echo: Callable[[str], Any] = print) -> Path:
    """Ingest the demo corpus into ``db_path``, run the stages, publish; return the snapshot."""
    from .crawler.ingest import IngestReport, ingest_file, iter_files
    from .db import connect, record_run
    from .errors import StageError
    from .site.export import publish

    con = connect(db_path)
    try:
        with record_run(con, "demo", "ingest") as run:
            report = IngestReport()
            for path in iter_files([DEMO_DIR]):
                report.files.append(
                    ingest_file(con, path, source=DEMO_SOURCES.get(path.name), run_id=run.id)
                )
            run.rows_out = report.totals.new + report.totals.changed
        if report.failed:
            raise StageError(f"the bundled demo corpus did not ingest: {report.failed[0].error}")
        echo(f"demo corpus: {report.summary()}")
        from .pipeline import run as run_pipeline

        run_pipeline(con, echo=echo)
        from .analysis.tracking import apply_by_text

        echo(f"resolutions: {apply_by_text(con, DEMO_RESOLUTIONS)} demo forecasts resolved")
        _demo_topics(con, echo)
        result = publish(con, db_path)
        echo(f"published {result.path} ({result.summary()})")
    finally:
        con.close()
    return result.path


def _demo_topics(con: Any, echo: Callable[[str], Any]) -> None:
    """Fit topics once (the demo's first build); later builds assign new items only."""
    import importlib.util

    if importlib.util.find_spec("bertopic") is None:
        echo("topics: skipped (topic modelling is not installed: pip install 'crux[topics]')")
        return
    from .analysis import topics

    echo("topics: " + str(topics.refresh_topics(con, refit=False, progress=False)))
