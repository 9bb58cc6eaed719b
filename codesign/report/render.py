"""Rendering report sections: one self-contained HTML page (images inline as base64 PNG,
styles inline, no scripts, nothing fetched) and a markdown twin whose images are PNG
files beside it."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from codesign.report.blocks import Image, Para, Row, Section, Table

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d2330;
background:#f6f7f9}
main{max-width:1060px;margin:0 auto;padding:24px 32px 48px}
h1{font-size:1.6rem;margin:.2rem 0 1rem}h2{font-size:1.2rem;margin:2rem 0 .6rem;
border-bottom:1px solid #d7dbe2;padding-bottom:.3rem}
nav{font-size:.9rem;margin-bottom:1rem}nav a{margin-right:1rem;color:#2456a6}
table{border-collapse:collapse;margin:.6rem 0;font-size:.88rem;background:#fff}
th,td{border:1px solid #d7dbe2;padding:4px 9px;text-align:left;vertical-align:top}
th{background:#eef1f5}td{font-variant-numeric:tabular-nums}
p.pass{border-left:5px solid #2e8b57;background:#e9f6ee;padding:6px 10px}
p.fail{border-left:5px solid #c0392b;background:#fbeaea;padding:6px 10px}
figure{margin:.8rem 0}figure img{max-width:100%;border:1px solid #d7dbe2;background:#fff}
figcaption{font-size:.85rem;color:#555}
div.row{display:flex;gap:12px;align-items:flex-start}div.row figure{flex:1;min-width:0}
"""


def to_html(title: str, secs: list[Section]) -> str:
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body><main>",
             f"<h1>{html.escape(title)}</h1>",
             "<nav>" + "".join(f'<a href="#{s.id}">{html.escape(s.title)}</a>'
                               for s in secs) + "</nav>"]
    for s in secs:
        parts.append(f'<section id="{s.id}"><h2>{html.escape(s.title)}</h2>')
        parts += [_html_block(b) for b in s.blocks]
        parts.append("</section>")
    parts.append("</main></body></html>")
    return "\n".join(parts)


def _html_block(b: Para | Table | Image | Row) -> str:
    if isinstance(b, Row):
        return '<div class="row">' + "".join(_html_block(i) for i in b.images) + "</div>"
    if isinstance(b, Para):
        cls = {True: ' class="pass"', False: ' class="fail"', None: ""}[b.status]
        return f"<p{cls}>{html.escape(b.text)}</p>"
    if isinstance(b, Table):
        head = "".join(f"<th>{html.escape(c)}</th>" for c in b.columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row)
                       + "</tr>" for row in b.rows)
        head_row = f"<thead><tr>{head}</tr></thead>" if any(b.columns) else ""
        return f"<table>{head_row}<tbody>{body}</tbody></table>"
    data = base64.b64encode(b.png).decode()
    return (f'<figure><img alt="{html.escape(b.alt)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(b.alt)}</figcaption></figure>")


def to_markdown(title: str, secs: list[Section], image_dir: Path, rel: str) -> str:
    """Markdown twin; writes each image to image_dir and links it as rel/NAME.png."""
    image_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"# {title}", ""]
    for s in secs:
        lines += [f"## {s.title}", ""]
        for b in s.blocks:
            if isinstance(b, Para):
                mark = {True: "**PASS** ", False: "**FAIL** ", None: ""}[b.status]
                lines += [mark + b.text, ""]
            elif isinstance(b, Table):
                cols = [c or " " for c in b.columns]
                lines.append("| " + " | ".join(cols) + " |")
                lines.append("|" + "---|" * len(cols))
                lines += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in b.rows]
                lines.append("")
            else:
                for image in b.images if isinstance(b, Row) else [b]:
                    (image_dir / f"{image.name}.png").write_bytes(image.png)
                    lines += [f"![{image.alt}]({rel}/{image.name}.png)", ""]
    return "\n".join(lines)


def _md_cell(v: object) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")
