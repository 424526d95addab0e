"""A document as the linking stages see it: its sentences in order, with their flags."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MIN_CLAIM_CHARS = 25  # shorter sentences are never a claim to link


@dataclass
class Sent:
    id: str
    block: int
    kind: str
    text: str
    in_quote: bool
    claim: bool = False


@dataclass
class DocView:
    id: str
    kind: str
    parent_id: str | None
    title: str | None
    author: str | None
    url: str | None
    url_key: str | None
    published_at: Any
    sents: list[Sent] = field(default_factory=list)

    def own(self) -> list[Sent]:
        """The author's own sentences: not quoted, not headings."""
        return [
            s
            for s in self.sents
            if not s.in_quote and s.kind != "heading" and len(s.text) >= MIN_CLAIM_CHARS
        ]

    def claims(self) -> list[Sent]:
        flagged = [s for s in self.own() if s.claim]
        return flagged or self.own()
