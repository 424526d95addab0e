"""The schema, as ordered, named migrations: the only place that says CREATE TABLE.

Each migration runs once, in a transaction, and is recorded in ``_migrations``. Table and
column names are a public interface (the site, users' SQL and the evaluation read them):
add columns in new migrations; never rename. Times are naive ``TIMESTAMP`` values in UTC.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import SchemaError
from .tx import transaction
from .tx import utcnow as _now

if TYPE_CHECKING:
    import duckdb

MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_core",
        """
        CREATE TABLE sources (
            id            VARCHAR PRIMARY KEY,
            kind          VARCHAR NOT NULL,      -- feed | forummagnum | file
            name          VARCHAR NOT NULL UNIQUE,
            url           VARCHAR,
            enabled       BOOLEAN NOT NULL DEFAULT true,
            config        VARCHAR NOT NULL DEFAULT '{}',  -- JSON: per-source options
            etag          VARCHAR,
            last_modified VARCHAR,
            watermark     VARCHAR,               -- latest postedAt / modification seen
            last_fetch_at TIMESTAMP,
            last_status   VARCHAR,
            last_error    VARCHAR,
            items         BIGINT NOT NULL DEFAULT 0,
            created_at    TIMESTAMP
        );
        CREATE TABLE documents (
            id            VARCHAR PRIMARY KEY,
            source_id     VARCHAR,
            kind          VARCHAR NOT NULL,      -- post | comment
            parent_id     VARCHAR,               -- comment: the post or comment it replies to
            post_id       VARCHAR,               -- comment: the post of its thread
            url           VARCHAR,
            url_key       VARCHAR,               -- normalised URL (ForumMagnum: fm:<id>)
            title         VARCHAR,
            author        VARCHAR,
            published_at  TIMESTAMP,
            updated_at    TIMESTAMP,
            html          VARCHAR,
            text          VARCHAR,
            content_hash  VARCHAR NOT NULL,
            fetched_at    TIMESTAMP,
            deleted       BOOLEAN NOT NULL DEFAULT false,
            score         INTEGER,
            vote_count    INTEGER,
            comment_count INTEGER,
            tags          VARCHAR,               -- JSON array of strings
            extra         VARCHAR                -- JSON object: what else the source said
        );
        CREATE TABLE document_revisions (
            document_id   VARCHAR NOT NULL,
            content_hash  VARCHAR NOT NULL,
            title         VARCHAR,
            html          VARCHAR,
            seen_at       TIMESTAMP,
            PRIMARY KEY (document_id, content_hash)
        );
        CREATE TABLE links (
            source_id     VARCHAR NOT NULL,      -- the linking document
            position      INTEGER NOT NULL,      -- order of the link in its document
            target_url    VARCHAR NOT NULL,
            target_key    VARCHAR,
            target_id     VARCHAR,               -- the linked document, when in the corpus
            anchor_text   VARCHAR,
            PRIMARY KEY (source_id, position)
        );
        CREATE SEQUENCE _runs_id_seq;
        CREATE TABLE _runs (
            id            BIGINT PRIMARY KEY DEFAULT nextval('_runs_id_seq'),
            command       VARCHAR NOT NULL,
            stage         VARCHAR,
            started_at    TIMESTAMP NOT NULL,
            finished_at   TIMESTAMP,
            status        VARCHAR NOT NULL,      -- running | ok | partial | failed | abandoned
            rows_in       BIGINT,
            rows_out      BIGINT,
            error         VARCHAR,
            config        VARCHAR
        );
        CREATE SEQUENCE _rejects_id_seq;
        CREATE TABLE _rejects (
            id            BIGINT PRIMARY KEY DEFAULT nextval('_rejects_id_seq'),
            run_id        BIGINT,
            source_id     VARCHAR,
            location      VARCHAR NOT NULL,      -- file, URL or item that was rejected
            reason        VARCHAR NOT NULL,
            rejected_at   TIMESTAMP NOT NULL
        );
        """,
    ),
    (
        "0002_nlp",
        """
        -- Which documents (at which content_hash) a stage has processed, at which version.
        CREATE TABLE _stage_state (
            stage         VARCHAR NOT NULL,
            document_id   VARCHAR NOT NULL,
            content_hash  VARCHAR NOT NULL,
            version       VARCHAR NOT NULL,
            done_at       TIMESTAMP NOT NULL,
            PRIMARY KEY (stage, document_id)
        );
        CREATE TABLE blocks (
            id            VARCHAR PRIMARY KEY,   -- <document_id>:b<position>
            document_id   VARCHAR NOT NULL,
            position      INTEGER NOT NULL,
            kind          VARCHAR NOT NULL,      -- paragraph | heading | list_item | blockquote | table_cell | code | caption | math
            text          VARCHAR NOT NULL,
            depth         INTEGER NOT NULL DEFAULT 0  -- block-quote nesting depth
        );
        CREATE TABLE sentences (
            id            VARCHAR PRIMARY KEY,   -- <document_id>:s<position>
            document_id   VARCHAR NOT NULL,
            block_id      VARCHAR NOT NULL,
            position      INTEGER NOT NULL,      -- order within the document
            text          VARCHAR NOT NULL,
            start         INTEGER NOT NULL,      -- character offsets within the block's text
            "end"         INTEGER NOT NULL,
            in_quote      BOOLEAN NOT NULL DEFAULT false  -- inside a block quote or an inline quotation of another author
        );
        CREATE TABLE claims (
            sentence_id   VARCHAR PRIMARY KEY,
            document_id   VARCHAR NOT NULL,
            score         DOUBLE NOT NULL,       -- classifier probability that the sentence is a claim
            kind          VARCHAR,               -- evaluation | factual | causal | prediction | recommendation | stance
            model         VARCHAR
        );
        CREATE TABLE forecasts (
            sentence_id   VARCHAR PRIMARY KEY,
            document_id   VARCHAR NOT NULL,
            probability   DOUBLE,                -- in [0, 1] when a number is given
            low           DOUBLE,                -- range forecasts ("20-40%")
            high          DOUBLE,
            verbal        VARCHAR,               -- the verbal expression ("likely", "I'd bet")
            horizon       DATE,                  -- resolved horizon (a bare year: 31 December)
            horizon_text  VARCHAR,               -- the horizon as written ("by 2028", "in the next 10 years")
            event         VARCHAR,
            holder        VARCHAR                -- when the forecast is someone else's
        );
        CREATE TABLE embeddings (
            item_kind     VARCHAR NOT NULL,      -- claim | quote | document | sentence
            item_id       VARCHAR NOT NULL,
            model         VARCHAR NOT NULL,
            content_hash  VARCHAR NOT NULL,      -- hash of the embedded text: unchanged text is never re-embedded
            vector        FLOAT[] NOT NULL,      -- 384 floats for all-MiniLM-L6-v2; other models other sizes
            PRIMARY KEY (item_kind, item_id, model)
        );
        """,
    ),
    (
        "0003_debates",
        """
        CREATE TABLE responses (
            source_id     VARCHAR NOT NULL,      -- the responding document
            target_key    VARCHAR NOT NULL,      -- target_id, or the normalised target_url when outside the corpus
            target_id     VARCHAR,
            target_url    VARCHAR,
            relation      VARCHAR NOT NULL,      -- rebuts | supports | extends | cites
            score         DOUBLE NOT NULL,
            evidence      VARCHAR,               -- JSON: the signals behind the decision, with quoted text
            PRIMARY KEY (source_id, target_key)
        );
        CREATE TABLE claim_links (
            id                  VARCHAR PRIMARY KEY,  -- hash of source sentence and target (sentence id or text)
            source_sentence_id  VARCHAR NOT NULL,
            source_document_id  VARCHAR NOT NULL,
            target_sentence_id  VARCHAR,              -- null when the target is quoted but not in the corpus
            target_document_id  VARCHAR,
            target_text         VARCHAR,
            relation            VARCHAR NOT NULL,     -- attacks | supports
            score               DOUBLE NOT NULL,
            method              VARCHAR NOT NULL      -- quote-reply | paraphrase | concession | reply | ...
        );
        """,
    ),
    (
        "0004_topics",
        """
        CREATE TABLE topic_runs (
            run_id        VARCHAR PRIMARY KEY,
            created_at    TIMESTAMP NOT NULL,
            unit          VARCHAR NOT NULL,      -- documents | claims
            params        VARCHAR,               -- JSON
            n_items       INTEGER,
            model_path    VARCHAR
        );
        CREATE TABLE topics (
            run_id        VARCHAR NOT NULL,
            topic_id      INTEGER NOT NULL,
            label         VARCHAR,
            words         VARCHAR,               -- JSON array of [word, weight]
            size          INTEGER,
            PRIMARY KEY (run_id, topic_id)
        );
        CREATE TABLE topic_assignments (
            run_id        VARCHAR NOT NULL,
            item_kind     VARCHAR NOT NULL,      -- document | claim
            item_id       VARCHAR NOT NULL,
            topic_id      INTEGER NOT NULL,
            probability   DOUBLE,
            method        VARCHAR NOT NULL DEFAULT 'fit',  -- fit | centroid (assigned after the fit)
            PRIMARY KEY (run_id, item_kind, item_id)
        );
        """,
    ),
    (
        "0005_forecast_fields",
        """
        ALTER TABLE forecasts ADD COLUMN form VARCHAR;                -- numeric | hedged | unhedged
        ALTER TABLE forecasts ADD COLUMN implied_probability DOUBLE;  -- the number, or the verbal phrase's value (VERBAL_SCALE)
        ALTER TABLE forecasts ADD COLUMN condition VARCHAR;           -- the condition of a conditional forecast
        ALTER TABLE forecasts ADD COLUMN score DOUBLE;                -- the detector's probability that this is a forecast
        ALTER TABLE forecasts ADD COLUMN model VARCHAR;
        """,
    ),
    (
        "0006_link_keys",
        """
        -- Every key under which links reach a document: its url_key, and for forum posts
        -- their id, slug, legacy id and own url (htmltext.forum_keys). Links resolve through it.
        CREATE TABLE document_keys (
            key           VARCHAR NOT NULL,
            document_id   VARCHAR NOT NULL,
            PRIMARY KEY (key, document_id)
        );
        INSERT INTO document_keys SELECT DISTINCT url_key, id FROM documents WHERE url_key IS NOT NULL;
        ALTER TABLE links ADD COLUMN alt_key VARCHAR;  -- a weaker key (a legacy URL's slug)
        """,
    ),
    (
        "0007_resolutions",
        """
        -- User data: what happened to a forecast. Keyed by the forecast key (analysis.tracking:
        -- document id + hash of the normalised sentence text), never by a row a stage rewrites,
        -- so re-processing, model changes and refreshes keep every row. A row whose key no
        -- longer matches a forecast is kept and reported as orphaned.
        CREATE TABLE resolutions (
            forecast_key  VARCHAR PRIMARY KEY,   -- <document_id>:<12 hex>
            document_id   VARCHAR NOT NULL,
            sentence      VARCHAR,               -- the forecast's sentence when it was resolved
            outcome       VARCHAR NOT NULL,      -- yes | no | ambiguous | a number
            value         DOUBLE,                -- 1 (yes), 0 (no), the number; null when ambiguous
            resolved_at   TIMESTAMP NOT NULL,
            source        VARCHAR NOT NULL DEFAULT 'manual',  -- a URL or "manual"
            note          VARCHAR,
            who           VARCHAR
        );
        """,
    ),
    (
        "0008_store_state",
        """
        -- Facts about the store as a whole, one row a key. links_version: the version of link
        -- extraction (htmltext.LINKS_VERSION) the links rows were made with (db.relinking).
        CREATE TABLE _store_state (
            key           VARCHAR PRIMARY KEY,
            value         VARCHAR NOT NULL,
            updated_at    TIMESTAMP NOT NULL
        );
        """,
    ),
]

SCHEMA_VERSION = MIGRATIONS[-1][0]


def applied(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Names of the migrations already applied, oldest first."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = '_migrations'"
    ).fetchone()
    if not exists or not exists[0]:
        return []
    return [r[0] for r in con.execute("SELECT name FROM _migrations ORDER BY name").fetchall()]


def ensure_schema(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply every migration not yet applied; return the names applied now. Idempotent."""
    done = applied(con)
    known = [name for name, _ in MIGRATIONS]
    unknown = [n for n in done if n not in known]
    if unknown:
        raise SchemaError(
            f"this database has migration {unknown[-1]!r}, which this crux does not know: "
            "upgrade crux (pip install -U crux) before using it"
        )
    if not done:
        tables = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchone()
        if tables and tables[0]:
            raise SchemaError(
                "this DuckDB file has tables but is not a crux database: choose another --db path"
            )
    new = []
    for name, sql in MIGRATIONS:
        if name in done:
            continue
        with transaction(con):
            con.execute(
                "CREATE TABLE IF NOT EXISTS _migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMP)"
            )
            con.execute(sql)
            con.execute("INSERT INTO _migrations VALUES (?, ?)", [name, _now()])
        new.append(name)
    return new
