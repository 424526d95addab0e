"""Bigger corpora from ``lesswrong-2020``: 1×, 4×, 16× copies, written once to ``out/corpus``.

Copy 0 is the real corpus, byte for byte. Copy ``k`` ≥ 1 gets new post ids (a hash of seed,
``k`` and the old id, 17 characters of ``[A-Za-z0-9]`` like ForumMagnum's), the same new ids
wherever the old ones appear in ``_id``, ``pageUrl`` and the ``/posts/<id>``, ``/events/<id>``
and ``commentId=<id>`` links inside ``htmlBody`` (so links between posts of a copy resolve
inside that copy), and lightly perturbed text: in each text run of the HTML a few neighbouring
words swap places, and in every sentence of five words or more at least one pair does (the
claims and embed stages cache vectors by sentence text), chosen by a seeded generator; a body of fewer than 40 words (where two
copies' swaps could coincide) also gets a paragraph naming its copy. No id, URL or content hash is shared between copies.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import ROOT, BenchError

SEED = 20261122
VERSION = 5  # bump when the replication changes: cached copies are rebuilt
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_POST_ID = re.compile(r"(/(?:posts|events)/|[?&]commentId=)([A-Za-z0-9]{17})(?![A-Za-z0-9])")
_TAG_SPLIT = re.compile(r"(<[^>]*>)")
_TAG = re.compile(r"<[^>]*>")


def source_corpus(shared: Path | None = None, name: str = "lesswrong-2020") -> Path:
    """``$CRUX_SHARED/corpora/<name>`` (default ``../shared`` beside the checkout)."""
    base = shared or Path(os.environ.get("CRUX_SHARED") or ROOT.parent / "shared")
    path = base / "corpora" / name
    if not path.is_dir() or not any(path.glob("*.json")):
        raise BenchError(
            f"{path}: the benchmark corpus is missing. Put the project's shared data beside the "
            "checkout (../shared) or point CRUX_SHARED at it, e.g. CRUX_SHARED=/work/shared")
    return path


def new_id(old: str, copy: int, seed: int = SEED) -> str:
    """The id of post ``old`` in copy ``copy`` (copy 0 keeps its ids)."""
    if copy == 0:
        return old
    n = int.from_bytes(hashlib.sha256(f"{seed}:{copy}:{old}".encode()).digest()[:16], "big")
    chars = []
    for _ in range(17):
        n, r = divmod(n, 62)
        chars.append(_ALPHABET[r])
    return "".join(chars)


def remap_ids(text: str, copy: int, seed: int = SEED) -> str:
    """Every ForumMagnum post/comment id inside URLs of ``text``, as copy ``copy`` names it."""
    if copy == 0 or not text:
        return text
    return _POST_ID.sub(lambda m: m.group(1) + new_id(m.group(2), copy, seed), text)


_SENTENCE_END = re.compile(r"(?<=[.!?])(\s+)")


def perturb_html(html: str, rng: random.Random, swaps_per_run: int = 2) -> str:
    """Swap two different neighbouring words in every sentence-like piece of five words or more
    of each text run (tags and attributes untouched), so that sentence-level caches (the claims
    and embed stages key vectors by text) do not reuse one copy's sentences for another's; a
    run with no such piece gets a few swaps anywhere."""
    parts = _TAG_SPLIT.split(html)
    for i in range(0, len(parts), 2):  # even indexes are text between tags
        pieces = _SENTENCE_END.split(parts[i])
        swapped = False
        for k in range(0, len(pieces), 2):  # odd indexes are the spaces between sentences
            ws = pieces[k].split(" ")
            pairs = [j for j in range(len(ws) - 1) if ws[j] != ws[j + 1]]
            if len(ws) >= 5 and pairs:
                j = pairs[rng.randrange(len(pairs))]
                ws[j], ws[j + 1] = ws[j + 1], ws[j]
                pieces[k] = " ".join(ws)
                swapped = True
        if swapped:
            parts[i] = "".join(pieces)
            continue
        words = parts[i].split(" ")
        if len(words) < 4:
            continue
        for _ in range(max(1, min(swaps_per_run, len(words) // 6))):
            j = rng.randrange(len(words) - 1)
            words[j], words[j + 1] = words[j + 1], words[j]
        parts[i] = " ".join(words)
    return "".join(parts)


def replicate_post(post: dict[str, Any], copy: int, seed: int = SEED) -> dict[str, Any]:
    """Post object ``post`` as copy ``copy`` holds it (copy 0: unchanged)."""
    if copy == 0:
        return post
    out = dict(post)
    if isinstance(post.get("_id"), str):
        out["_id"] = new_id(post["_id"], copy, seed)
    if isinstance(post.get("pageUrl"), str):
        out["pageUrl"] = remap_ids(post["pageUrl"], copy, seed)
    html = post.get("htmlBody")
    if isinstance(html, str) or html is None:
        rng = random.Random(f"{seed}:{copy}:{post.get('_id')}")
        new = perturb_html(remap_ids(html or "", copy, seed), rng)
        if new == (html or "") or len(_TAG.sub(" ", new).split()) < 40:
            new += f"<p>(copy {copy})</p>"  # few words: swaps alone could repeat in another copy
        out["htmlBody"] = new
    return out


def _fingerprint(src: Path) -> str:
    files = sorted(src.glob("*.json"))
    return json.dumps({"version": VERSION, "seed": SEED, "files": [
        (f.name, f.stat().st_size, int(f.stat().st_mtime)) for f in files]})


def replicate(src: Path, cache: Path, factor: int, *, seed: int = SEED,
              log: Callable[[str], None] | None = None) -> Path:
    """The folder holding ``factor`` copies of corpus ``src`` (built once under ``cache``).

    One file per source file and copy: ``<stem>.c<k>.json``, a JSON list of posts.
    """
    if factor < 1:
        raise BenchError(f"corpus size must be 1 or more, not {factor}")
    target = cache / f"{src.name}-x{factor}"
    stamp = target / ".complete"
    fingerprint = _fingerprint(src)
    if stamp.exists() and stamp.read_text() == fingerprint:
        return target
    if log:
        log(f"  writing {factor}× copy of {src.name} to {target}")
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for f in sorted(src.glob("*.json")):
        posts = json.loads(f.read_text(encoding="utf-8"))
        for k in range(factor):
            name = f"{f.stem}.c{k:02d}.json"
            if k == 0:
                shutil.copyfile(f, tmp / name)
                continue
            copy = [replicate_post(p, k, seed) if isinstance(p, dict) else p for p in posts]
            (tmp / name).write_text(json.dumps(copy, ensure_ascii=False), encoding="utf-8")
    (tmp / ".complete").write_text(fingerprint)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


def sample(src: Path, cache: Path, n_posts: int) -> Path:
    """A folder with the first ``n_posts`` posts of corpus ``src`` (files in name order), built once."""
    target = cache / f"{src.name}-first{n_posts}"
    stamp = target / ".complete"
    fingerprint = _fingerprint(src)
    if stamp.exists() and stamp.read_text() == fingerprint:
        return target
    posts: list[Any] = []
    for f in sorted(src.glob("*.json")):
        posts.extend(json.loads(f.read_text(encoding="utf-8")))
        if len(posts) >= n_posts:
            break
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    (target / "sample.json").write_text(json.dumps(posts[:n_posts], ensure_ascii=False), encoding="utf-8")
    stamp.write_text(fingerprint)
    return target
