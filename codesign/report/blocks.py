"""What a report is made of: sections of paragraphs, tables and images. The HTML page
and its markdown twin render the same blocks."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Para:
    text: str
    status: bool | None = None  # True: a pass, False: a failure, None: plain text


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Image:
    name: str  # file stem for the markdown twin
    png: bytes
    alt: str


@dataclass(frozen=True)
class Row:
    """Images side by side (so one can be read against the other)."""

    images: list[Image]


Block = Para | Table | Image | Row


@dataclass
class Section:
    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)
