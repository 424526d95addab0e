"""The segment stage: documents → ``blocks`` → ``sentences``.

Public interface (other stages read the tables; these names stay stable):

- ``blocks(id '<doc>:b<n>', document_id, position, kind, text, depth)``: one row per
  paragraph, heading, list item, table cell, code block, image caption or display-math block,
  in document order. ``kind`` is ``blockquote`` for a paragraph inside ``<blockquote>``;
  other kinds inside a quote keep their kind. ``depth`` is the block-quote nesting depth.
  Inline math is kept in the text as ``\\(TeX\\)``; display math (MathJax display, or a
  paragraph that is one ``$$...$$``) is a ``math`` block holding the TeX. A ``<br>`` is a newline in the text. The title is not a block.
- ``sentences(id '<doc>:s<n>', document_id, block_id, position, text, start, "end",
  in_quote)``: ``start``/``end`` are offsets in the block's text. Code and math blocks have no
  sentences; nor has text with no letter or digit. A sentence never crosses a block, a
  ``<br>``, inline math or inline code. ``in_quote`` is true inside a block quote (any
  depth) and for a sentence that is mostly an attributed quotation of someone else
  (``As Marcus put it, “...”``; a quote after ``X argues:``), see :func:`inline_quotes`.
- Documents without HTML are split into paragraphs on blank lines (lines starting with ``>``
  are a quote). A comment is segmented like a post.

Helpers: :func:`html_blocks`, :func:`text_blocks`, :func:`split_sentences` (the same
segmentation without the database), :class:`Block`, :class:`Sentence`.
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from ..db.store import bulk_insert
from ..htmltext import parse_fragment
from . import nlp as _nlp
from .stage import PendingDoc, Stage

if TYPE_CHECKING:
    import duckdb
    from lxml import etree
    from spacy.language import Language

log = logging.getLogger(__name__)

MAX_CHUNK = 20_000  # characters handed to spaCy at once (long blocks are cut at a space)
MAX_SENTENCE = 1_500  # a longer "sentence" (a list without punctuation) is cut at spaces
NO_SENTENCES = frozenset(("code", "math"))

_CONTEXT = {
    "h1": "heading",
    "h2": "heading",
    "h3": "heading",
    "h4": "heading",
    "h5": "heading",
    "h6": "heading",
    "li": "list_item",
    "dt": "list_item",
    "dd": "list_item",
    "td": "table_cell",
    "th": "table_cell",
    "figcaption": "caption",
    "caption": "caption",
}
_CONTAINERS = frozenset(
    "p div section article body html main header footer aside nav details summary figure dl ul ol "
    "table tbody thead tfoot tr hr center form fieldset".split()
)
_SKIP = frozenset(
    "script style template noscript head svg button select textarea iframe audio "
    "video object title".split()
)
_WS = re.compile(r"[ \t\r\n\f\v\u00a0\u200b]+")
_DISPLAY_TEX = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]", re.S)
_INLINE_TEX = re.compile(
    r"\\\((.+?)\\\)|(?<![\\$\w])\$(?=[^\s$])([^$\n]{1,200}?[\\^_{}=][^$\n]{0,200}?)(?<=[^\s$])\$(?![\w$])",
    re.S,
)


@dataclass
class Block:
    kind: str
    text: str
    depth: int = 0
    protected: list[tuple[int, int]] = field(default_factory=list)  # no sentence boundary inside


@dataclass
class Sentence:
    block: int  # index in the document's blocks
    start: int
    end: int
    text: str
    in_quote: bool


# ---- HTML → blocks ------------------------------------------------------------------------


def _classes(el: etree._Element) -> str:
    return el.get("class") or ""


def _is_math(el: etree._Element) -> bool:
    if el.tag == "math":
        return True
    cls = _classes(el)
    return "mjpage" in cls or "mjx-chtml" in cls or "math-tex" in cls


def _tex(el: etree._Element) -> tuple[str, bool]:
    """The TeX source of a math element and whether it is display math."""
    display = "mjpage__block" in _classes(el) or el.get("display") == "block"
    tex = el.get("alttext") or ""
    for sub in el.iter():
        if not isinstance(sub.tag, str):
            continue
        if "MJXc-display" in _classes(sub):
            display = True
        if not tex and sub.get("aria-label"):
            tex = sub.get("aria-label") or ""
    if not tex:
        tex = el.text_content() or ""
        m = re.fullmatch(r"\s*(?:\\\((.*)\\\)|\\\[(.*)\\\]|\$\$(.*)\$\$)\s*", tex, re.S)
        if m:
            display = display or m.group(1) is None
            tex = next(g for g in m.groups() if g is not None)
    return _WS.sub(" ", tex).strip(), display


def _code_text(el: etree._Element) -> str:
    """Verbatim text of a ``<pre>`` (math as TeX, ``<br>`` as newlines); iterative."""
    parts: list[str] = []
    stack: list[tuple[etree._Element, bool]] = [(el, False)]
    while stack:
        node, closing = stack.pop()
        if closing:
            if node.tail and node is not el:
                parts.append(node.tail)
            continue
        if not isinstance(node.tag, str) or node.tag in _SKIP:
            if node.tail and node is not el:
                parts.append(node.tail)
            continue
        if node is not el and _is_math(node):
            parts.append(_tex(node)[0])
            if node.tail:
                parts.append(node.tail)
            continue
        if node.tag == "br":
            parts.append("\n")
        if node.text:
            parts.append(node.text)
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(node))
    return "".join(parts).strip("\n").rstrip()


class _Builder:
    """Collects inline text into blocks while the HTML walk enters and leaves elements."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.buf: list[str] = []
        self.size = 0
        self.protected: list[tuple[int, int]] = []
        self.ctx: list[tuple[str, int]] = [("paragraph", 0)]

    def add(self, text: str, protect: bool = False) -> None:
        text = _WS.sub(" ", text)
        if not text:
            return
        if (not self.buf or self.buf[-1].endswith((" ", "\n"))) and text.startswith(" "):
            text = text[1:]
            if not text:
                return
        start = self.size
        self.buf.append(text)
        self.size += len(text)
        if protect:
            self.protected.append((start, self.size))

    def newline(self) -> None:
        if self.buf and self.buf[-1].endswith(" "):
            self.buf[-1] = self.buf[-1][:-1]
            self.size -= 1
        self.buf.append("\n")
        self.size += 1

    def flush(self) -> None:
        raw = "".join(self.buf)
        self.buf, self.size, protected, self.protected = [], 0, self.protected, []
        text = raw.strip()
        if not text:
            return
        shift = len(raw) - len(raw.lstrip())
        spans = [(max(0, s - shift), min(len(text), e - shift)) for s, e in protected]
        text = "\n".join(line.strip() for line in text.split("\n"))  # " \n" was removed already
        kind, depth = self.ctx[-1]
        if kind == "paragraph" and depth:
            kind = "blockquote"
        self.blocks.extend(_split_display_tex(Block(kind, text, depth, spans)))

    def emit(self, kind: str, text: str) -> None:
        self.flush()
        if text.strip():
            self.blocks.append(Block(kind, text, self.ctx[-1][1]))


def html_blocks(html: str | None) -> list[Block]:
    """The blocks of an HTML fragment, in order; never raises on bad markup."""
    root = parse_fragment(html or "")
    if root is None:
        return []
    b = _Builder()
    stack: list[tuple[etree._Element, bool]] = [(root, False)]
    while stack:  # iterative: web HTML nests thousands deep
        node, closing = stack.pop()
        tag = node.tag.lower() if isinstance(node.tag, str) else ""
        if closing:
            if tag == "q":
                b.add("”")
            elif tag == "code":
                b.protected[-1:] = [(b.protected[-1][0], b.size)] if b.protected else []
            if tag in _CONTEXT or tag == "blockquote":
                b.flush()
                b.ctx.pop()
            elif tag in _CONTAINERS:
                b.flush()
            if node.tail and node is not root:
                b.add(node.tail)
            continue
        if not tag or tag in _SKIP or tag == "img":
            if node.tail and node is not root:
                b.add(node.tail)
            continue
        if _is_math(node):
            tex, display = _tex(node)
            if display:
                b.emit("math", tex)
            elif tex:
                b.add(f"\\({tex}\\)", protect=True)
            if node.tail:
                b.add(node.tail)
            continue
        if tag == "pre":
            b.emit("code", _code_text(node))
            if node.tail:
                b.add(node.tail)
            continue
        if tag == "br":
            b.newline()
            if node.tail:
                b.add(node.tail)
            continue
        if tag in _CONTEXT:
            b.flush()
            b.ctx.append((_CONTEXT[tag], b.ctx[-1][1]))
        elif tag == "blockquote":
            b.flush()
            b.ctx.append(("paragraph", b.ctx[-1][1] + 1))
        elif tag in _CONTAINERS:
            b.flush()
        elif tag == "q":
            b.add("“")
        elif tag == "code":
            b.protected.append((b.size, b.size))
        if node.text:
            b.add(node.text)
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(node))
    b.flush()
    return b.blocks


def _split_display_tex(block: Block) -> list[Block]:
    """A block that is one ``$$...$$`` or ``\\[...\\]`` formula becomes a math block; TeX inside
    prose (display or inline) stays in the text, protected from sentence splitting."""
    text = block.text
    if "$" not in text and "\\" not in text:
        return [block]
    m = _DISPLAY_TEX.fullmatch(text)
    if m:
        return [Block("math", _WS.sub(" ", m.group(1) or m.group(2) or "").strip(), block.depth)]
    spans = [m.span() for m in _DISPLAY_TEX.finditer(text)]
    spans += [m.span() for m in _INLINE_TEX.finditer(text)]
    return [Block(block.kind, text, block.depth, sorted(block.protected + spans))]


def text_blocks(text: str | None) -> list[Block]:
    """Paragraphs of plain text (split on blank lines); ``>`` lines are a block quote."""
    out: list[Block] = []
    for para in re.split(r"\n[ \t]*\n", text or ""):
        lines = [ln.strip() for ln in para.strip().split("\n")]
        if not any(lines):
            continue
        depth = 0
        if all(ln.startswith(">") for ln in lines if ln):
            depth = min(len(re.match(r"[> ]*", ln).group().replace(" ", "")) for ln in lines if ln)  # type: ignore[union-attr]
            lines = [re.sub(rf"^(\s*>){{{depth}}}\s?", "", ln) for ln in lines]
        body = _WS.sub(" ", " ".join(ln.strip() for ln in lines)).strip()
        if body:
            out.extend(
                _split_display_tex(Block("blockquote" if depth else "paragraph", body, depth))
            )
    return out


# ---- blocks → sentences -------------------------------------------------------------------


def _chunks(text: str) -> list[tuple[int, str]]:
    """``text`` cut into pieces of at most MAX_CHUNK characters, at a sentence end or a space."""
    out, pos = [], 0
    while len(text) - pos > MAX_CHUNK:
        window = text[pos : pos + MAX_CHUNK]
        cut = max(window.rfind(". "), window.rfind("\n"))
        if cut < MAX_CHUNK // 2:
            cut = window.rfind(" ")
        cut = cut + 1 if cut > 0 else MAX_CHUNK
        out.append((pos, text[pos : pos + cut]))
        pos += cut
    out.append((pos, text[pos:]))
    return out


def split_sentences(
    nlp: Language, doc_blocks: list[list[Block]], batch_size: int = 256
) -> list[list[Sentence]]:
    """Sentences of each document's blocks, one ``nlp.pipe`` over all of them."""
    jobs: list[tuple[int, int, int]] = []  # (document, block, offset)
    texts: list[str] = []
    for d, blocks in enumerate(doc_blocks):
        for i, block in enumerate(blocks):
            if block.kind in NO_SENTENCES:
                continue
            for off, chunk in _chunks(block.text):
                jobs.append((d, i, off))
                texts.append(chunk)
    starts: dict[tuple[int, int], set[int]] = {}
    for (d, i, off), doc in zip(jobs, nlp.pipe(texts, batch_size=batch_size), strict=True):
        starts.setdefault((d, i), {0}).update(off + s.start_char for s in doc.sents)
        starts[(d, i)].add(off)
    out: list[list[Sentence]] = []
    for d, blocks in enumerate(doc_blocks):
        sents: list[Sentence] = []
        for i, block in enumerate(blocks):
            if (d, i) in starts:
                sents.extend(_block_sentences(i, block, starts[(d, i)]))
        mark_inline_quotes(blocks, sents)
        out.append(sents)
    return out


_ALNUM = re.compile(r"[^\W_]")  # a character for which str.isalnum() is true


def _unprotected(bounds: set[int], protected: list[tuple[int, int]]) -> set[int]:
    """``bounds`` without those strictly inside a protected span (``s < b < e`` for any span).

    Spans sorted by start, with the running maximum of their ends: a bound ``b`` is inside
    some span exactly when the largest end among the spans starting before ``b`` is past it.
    """
    if not protected:
        return bounds
    spans = sorted(protected)
    starts = [s for s, _ in spans]
    reach, top = [], -1
    for _, e in spans:
        top = max(top, e)
        reach.append(top)
    out = set()
    for b in bounds:
        k = bisect_left(starts, b)  # spans[:k] start before b
        if not k or reach[k - 1] <= b:
            out.add(b)
    return out


def _block_sentences(index: int, block: Block, starts: set[int]) -> list[Sentence]:
    text = block.text
    bounds = set(starts)
    if "\n" in text:
        bounds.update(m.end() for m in re.finditer("\n", text))
    bounds = _unprotected(bounds, block.protected)
    bounds.add(len(text))
    cuts = sorted(bounds)
    out = []
    quoted = block.depth > 0
    for a, z in zip(cuts, cuts[1:], strict=False):
        for s, e in _cap(text, a, z) if z - a > MAX_SENTENCE else ((a, z),):
            piece = text[s:e]
            s += len(piece) - len(piece.lstrip())
            e -= len(piece) - len(piece.rstrip())
            if e > s:
                piece = text[s:e]
                if _ALNUM.search(piece):
                    out.append(Sentence(index, s, e, piece, quoted))
    return out


def _cap(text: str, a: int, z: int) -> list[tuple[int, int]]:
    spans = []
    while z - a > MAX_SENTENCE:
        cut = text.rfind(" ", a + MAX_SENTENCE // 2, a + MAX_SENTENCE)
        cut = cut if cut > a else a + MAX_SENTENCE
        spans.append((a, cut))
        a = cut
    spans.append((a, z))
    return spans


# ---- inline quotations --------------------------------------------------------------------

_CUE = re.compile(
    r"\b(?:says?|said|writes?|wrote|written|argues?|argued|claims?|claimed|states?|stated|notes?|"
    r"noted|puts? it|asks?|asked|repl(?:y|ies|ied)|responds?|responded|tells?|told|tweet(?:s|ed)?|"
    r"quipped|observes?|observed|concludes?|concluded|suggests?|suggested|explains?|explained|"
    r"insists?|insisted|remarks?|remarked|adds?|added|continues?|continued|according to|"
    r"in (?:his|her|their) words|quote|quoting|as [A-Z][\w.'’-]* (?:has )?(?:put|says?|said))\b",
    re.I,
)
_FIRST_PERSON = re.compile(
    r"\b(?:I|we|I'd|I've|we've|I’d|I’ve|we’ve)\s+(?:\w+\s+){0,2}$|\b(?:I|we)\s+$"
)
_AFTER = re.compile(
    r"^[,.;:!?]?\s*(?:[—–]|--?\s)\s*\S|^[,.]?\s*\(?[A-Z@][\w.'’-]*(?: [A-Z][\w.'’-]*)?\s+"
    r"(?:says?|said|writes?|wrote|argues?|argued|adds?|added|continues?|continued)\b"
)


_QUOTE_MARKS = re.compile('[“«”»"]')


def quote_spans(text: str) -> list[tuple[int, int]]:
    """Spans of quoted passages (the marks included): “...”, «...» and paired "..." marks."""
    spans: list[tuple[int, int]] = []
    straight: list[int] = []
    open_at = None
    for m in _QUOTE_MARKS.finditer(text):  # the marks only, not every character
        i = m.start()
        c = text[i]
        if c == '"':
            straight.append(i)
        elif c in "“«":
            open_at = i
        elif open_at is not None:  # ” or »
            spans.append((open_at, i + 1))
            open_at = None
    pairs = [(straight[k], straight[k + 1] + 1) for k in range(0, len(straight) - 1, 2)]
    # Straight marks count only when every pair opens after a space and closes before one.
    if len(straight) % 2 == 0 and all(
        (a == 0 or not text[a - 1].isalnum()) and (z == len(text) or not text[z].isalnum())
        for a, z in pairs
    ):
        spans += pairs
    return sorted(spans)


def _attributed(blocks: list[Block], b: int, span: tuple[int, int]) -> bool:
    text = blocks[b].text
    before = text[max(0, span[0] - 150) : span[0]]
    cut = max(before.rfind(". "), before.rfind("? "), before.rfind("! "))
    before = before[cut + 1 :] if cut >= 0 else before
    cue = _CUE.search(before)
    if cue and _FIRST_PERSON.search(before[: cue.start()]):
        return False  # "I told them", "we ask": the author's own words
    if cue or before.rstrip().endswith(":"):
        return True
    if not text[: span[0]].strip() and b > 0 and blocks[b - 1].text.rstrip().endswith(":"):
        return True  # "Marcus argues:" then a paragraph in quotation marks
    return bool(_AFTER.search(text[span[1] : span[1] + 60]))


def mark_inline_quotes(blocks: list[Block], sents: list[Sentence]) -> None:
    """Set ``in_quote`` on sentences that are mostly an attributed quotation (conservative).

    A sentence qualifies when one quoted passage of at least four words covers at least
    half of its characters, what is outside the quote within the sentence is at most ten
    words, and the passage is attributed: a verb of saying (or a colon) before it in the
    same sentence or block, a preceding block ending with a colon, or ``— Name`` / ``, Name
    said`` after it. Scare quotes and quoted phrases inside the author's own prose do not.
    """
    spans_of: dict[int, list[tuple[int, int]]] = {}  # per block; empty: no opening mark
    for s in sents:
        if s.in_quote:
            continue
        spans = spans_of.get(s.block)
        if spans is None:
            text = blocks[s.block].text
            spans = quote_spans(text) if ('"' in text or "“" in text or "«" in text) else []
            spans_of[s.block] = spans
        for qa, qz in spans:
            if qa >= s.end:
                break  # spans are sorted by start: none of the rest overlaps the sentence
            inside = max(0, min(qz, s.end) - max(qa, s.start))
            if inside * 2 < (s.end - s.start):
                continue
            quoted = blocks[s.block].text[qa:qz]
            outside = (
                blocks[s.block].text[s.start : max(s.start, qa)]
                + " "
                + blocks[s.block].text[min(qz, s.end) : s.end]
            )
            if s.text.endswith(":"):
                break  # the sentence introduces something ("In “Title”, X wrote:")
            if (
                len(quoted.split()) >= 4
                and len(outside.split()) <= 10
                and _attributed(blocks, s.block, (qa, qz))
            ):
                s.in_quote = True
                break


# ---- the stage ----------------------------------------------------------------------------


def document_blocks(html: str | None, text: str | None, doc_id: str = "?") -> list[Block]:
    """A document's blocks: from its HTML, else from its text; bad HTML falls back to text."""
    if html and html.strip():
        try:
            return html_blocks(html)
        except Exception as e:  # never lose a document to bad markup
            log.warning(
                "document %s: could not read its HTML (%s: %s); segmented its text instead",
                doc_id,
                type(e).__name__,
                str(e)[:100],
            )
    return text_blocks(text)


class SegmentStage(Stage):
    """Blocks and sentences of every document (see the module docstring)."""

    name: ClassVar[str] = "segment"
    reads: ClassVar[tuple[str, ...]] = ("documents",)
    writes: ClassVar[tuple[str, ...]] = ("blocks", "sentences")
    batch_size: ClassVar[int] = 64

    def __init__(self, model: str | None = None) -> None:
        self.model = _nlp.model_name(model)
        # The splitter is part of the version: installing the model re-segments the corpus.
        self.version = f"1:{_nlp.splitter_id(self.model)}"  # type: ignore[misc]
        self.nlp: Language | None = None

    def setup(self, con: duckdb.DuckDBPyConnection) -> None:
        self.nlp = _nlp.sentence_pipeline(self.model)

    def process(self, con: duckdb.DuckDBPyConnection, docs: list[PendingDoc]) -> int:
        if self.nlp is None:
            self.setup(con)
        assert self.nlp is not None
        ids = [d.id for d in docs]
        rows = con.execute(
            "SELECT id, html, text FROM documents WHERE id IN (SELECT unnest(?)) ORDER BY id", [ids]
        ).fetchall()
        con.execute("DELETE FROM sentences WHERE document_id IN (SELECT unnest(?))", [ids])
        con.execute("DELETE FROM blocks WHERE document_id IN (SELECT unnest(?))", [ids])
        all_blocks = [document_blocks(html, text, doc_id) for doc_id, html, text in rows]
        all_sents = split_sentences(self.nlp, all_blocks)
        block_rows, sent_rows = [], []
        for (doc_id, _, _), blocks, sents in zip(rows, all_blocks, all_sents, strict=True):
            block_rows += [
                (f"{doc_id}:b{i}", doc_id, i, b.kind, b.text, b.depth) for i, b in enumerate(blocks)
            ]
            sent_rows += [
                (
                    f"{doc_id}:s{i}",
                    doc_id,
                    f"{doc_id}:b{s.block}",
                    i,
                    s.text,
                    s.start,
                    s.end,
                    s.in_quote,
                )
                for i, s in enumerate(sents)
            ]
        bulk_insert(
            con, "blocks", ("id", "document_id", "position", "kind", "text", "depth"), block_rows
        )
        bulk_insert(
            con,
            "sentences",
            ("id", "document_id", "block_id", "position", "text", "start", '"end"', "in_quote"),
            sent_rows,
        )
        return len(block_rows) + len(sent_rows)


__all__ = [
    "Block",
    "SegmentStage",
    "Sentence",
    "document_blocks",
    "html_blocks",
    "mark_inline_quotes",
    "quote_spans",
    "split_sentences",
    "text_blocks",
]
