"""Self-contained HTML reports: one file, images embedded as base64, every text escaped.

One file a person can open from anywhere (mail it, attach it to a CI run) without the PNGs beside it.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

from core.base.atomic import atomic_write_text

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 3px 10px; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; } .note { color: #666; font-size: 0.9em; }
.big { font-size: 1.4em; font-weight: bold; }
"""


@dataclass
class HtmlReport:
    title: str
    _parts: list[str] = field(default_factory=list)

    def heading(self, text: str) -> "HtmlReport":
        self._parts.append(f"<h2>{html.escape(text)}</h2>")
        return self

    def paragraph(self, text: str, css: str = "") -> "HtmlReport":
        klass = f' class="{html.escape(css)}"' if css else ""
        self._parts.append(f"<p{klass}>{html.escape(text)}</p>")
        return self

    def table(self, headers: list[str] | None, rows: list[list]) -> "HtmlReport":
        """`headers=None` for a two-column key/value table."""
        head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers or [])
        body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>"
                       for row in rows)
        thead = f"<thead><tr>{head}</tr></thead>" if head else ""
        self._parts.append(f"<table>{thead}<tbody>{body}</tbody></table>")
        return self

    def image(self, png: Path, alt: str) -> "HtmlReport":
        data = base64.b64encode(Path(png).read_bytes()).decode("ascii")
        self._parts.append(f'<p><img src="data:image/png;base64,{data}" alt="{html.escape(alt)}"></p>')
        return self

    def render(self) -> str:
        title = html.escape(self.title)
        return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<title>{title}</title><style>{STYLE}</style></head>\n<body><h1>{title}</h1>\n"
                + "\n".join(self._parts) + "\n</body></html>\n")

    def write(self, path: Path) -> Path:
        atomic_write_text(path, self.render())
        return Path(path)


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)
