"""Draw a response-enriched pool of document pairs for the response model (#17).

``python -m eval.sample_response_pairs OUT.jsonl [N]`` reads the shared corpora (``CRUX_SHARED``)
and writes up to ``N`` (default 480) document pairs to be labelled by hand. The rule never looks
at crux's responses, claim links or scores:

1. every hyperlink of a corpus post, to a corpus post or an outside page, and every title named
   in quotation marks (:func:`eval.sample_pairs.document_pairs` with no per-source caps; the
   earlier sets' sources and the held-out set's sources and targets are left out, as there);
2. minus the pairs already labelled (``pairs_documents.jsonl``);
3. kept when the source's title or a paragraph around the link has a word of
   :data:`RESPONSE_WORDS` (a broad list of answering, arguing, reviewing and follow-up words,
   far wider than the stage's cue phrases), or the source block-quotes something and links
   at most :data:`FEW_LINKS` pages (a post answering one quoted work);
4. at most :data:`PER_SOURCE` pairs a source, then the first ``N`` in sha1 order of the pair id.

The labelled pairs in `pairs_documents.jsonl` were drawn without any such filter and hold 29
responses in 730 pairs: too few to learn a decision from. This pool is enriched on purpose, so it
is training data only; the models are scored on the unfiltered test splits. The split (train /
dev / test) is by sha1 of the source document id, as everywhere
(:func:`eval.sample_sentences.split_of`).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

from eval.sample_pairs import _write, document_pairs, shared_root
from eval.sample_sentences import posts

SEED = "crux-response-pairs-20261204"
PER_SOURCE = 4
FEW_LINKS = 6
RESPONSE_WORDS = re.compile(
    r"\b(?:respon\w*|repl\w*|rebut\w*|critiqu\w*|critic\w*|contra|against|disagree\w*|"
    r"object\w*|counter\w*|review\w*|comment\w*|thoughts on|take on|re:|follow[- ]?up\w*|"
    r"previous(?:ly)?|earlier|last post|my post|I wrote|I argued|I claimed|argu\w*|claim\w*|"
    r"wrong|mistaken|misguided|agree\w*|point(?:s|ed)? out|push ?back|defen[cs]\w*|steel\w*|"
    r"refut\w*|sequel|part (?:2|ii|two)|update\w*|revisit\w*|elaborat\w*|build(?:s|ing)? on|"
    r"built on|inspired|in reply|answer\w*|skeptic\w*|sceptic\w*|unconvinc\w*|flaw\w*|"
    r"problem with|issue with|concern\w*|doubt\w*|in light of|suggest\w*|propos\w*|"
    r"extend\w*|expand\w*|continu\w*|retrospective|postmortem|post-mortem)",
    re.I,
)


def _h(s: str) -> str:
    return hashlib.sha1((SEED + s).encode()).hexdigest()


def enriched(pairs: list[dict], labelled: set[str], n: int) -> list[dict]:
    by_source: dict[str, list[dict]] = {}
    for r in pairs:
        if r["id"] in labelled:
            continue
        text = " ".join([r["source_title"] or ""] + r["contexts"])
        if RESPONSE_WORDS.search(text) or (r["source_quotes"] and r["source_links"] <= FEW_LINKS):
            by_source.setdefault(r["source"], []).append(r)
    kept = []
    for rows in by_source.values():
        kept += sorted(rows, key=lambda r: _h(r["id"]))[:PER_SOURCE]
    out = sorted(kept, key=lambda r: _h(r["id"]))[:n]
    for r in out:
        r["draw"] = "response-enriched"
    return out


def merge(pool: str, out: str, *labels: str) -> None:
    """``python -m eval.sample_response_pairs --merge POOL OUT LABELS...``: the pool's rows with
    the labellers' ``relation``, ``unsure`` and ``note``, for the labelled ids, in pool order."""
    got: dict[str, dict] = {}
    for path in labels:
        for line in Path(path).read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                got[r["id"]] = r
    rows = []
    for line in Path(pool).read_text().splitlines():
        r = json.loads(line)
        if r["id"] in got:
            lab = got[r["id"]]
            rows.append({**r, "relation": lab["relation"], "unsure": bool(lab.get("unsure")),
                         "note": lab.get("note", "")})
    _write(out, rows, f"labelled pairs from {len({r['source'] for r in rows})} sources")


def main(out: str, n: int = 480) -> None:
    every = list(posts(shared_root() / "corpora"))
    pairs = document_pairs(every, max_inside=None, max_outside=None)
    here = Path(__file__).parent
    labelled = {json.loads(line)["id"]
                for line in (here / "pairs_documents.jsonl").read_text().splitlines() if line.strip()}
    rows = enriched(pairs, labelled, n)
    _write(out, rows, f"document pairs from {len({r['source'] for r in rows})} sources "
                      f"(of {len(pairs)} candidates)")


if __name__ == "__main__":
    if sys.argv[1] == "--merge":
        merge(*sys.argv[2:])
    else:
        main(sys.argv[1], *(int(a) for a in sys.argv[2:3]))
