"""The report as one self-contained HTML file: Markdown rendered, plots embedded as data URIs."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from markdown_it import MarkdownIt

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: .5em 0 1em; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
code { background: #f5f5f5; padding: 0 3px; border-radius: 3px; }
img { max-width: 100%; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 2px; margin-top: 1.6em; }
"""


def markdown_to_html(text: str, *, title: str, base: Path) -> str:
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    body = md.render(text)

    def embed(m: re.Match) -> str:
        src = html.unescape(m.group(1))
        path = (base / src).resolve()
        if src.startswith(("http:", "https:", "data:")) or not path.is_file() or path.suffix.lower() != ".png":
            return m.group(0)
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f'src="data:image/png;base64,{data}"'

    body = re.sub(r'src="([^"]+)"', embed, body)
    # headings get ids so the summary table's links work
    body = re.sub(r"<h2>([^<]+)</h2>", lambda m: f'<h2 id="{anchor(html.unescape(m.group(1)))}">{m.group(1)}</h2>',
                  body)
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n<body>\n{body}</body></html>\n")


def anchor(heading: str) -> str:
    """The id a Markdown renderer (GitHub's rule) gives a heading; report.md links use the same."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
