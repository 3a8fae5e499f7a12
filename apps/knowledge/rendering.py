"""Markdown to safe HTML, the one renderer of articles (saved pages, the editor's preview).

Two layers: markdown-it-py leaves raw HTML out (`html: False` escapes it as text) and refuses
`javascript:`/`vbscript:`/`data:` links; nh3 (Ammonia) then keeps only an allow-list of tags,
attributes and URL schemes, so whatever a future Markdown option lets through stays inert.
"""

import html
import re

import nh3
from markdown_it import MarkdownIt

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]
)

TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "s", "del", "code", "pre",
    "blockquote", "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td",
}
ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "ol": {"start"},
              "th": {"align"}, "td": {"align"}}
URL_SCHEMES = {"http", "https", "mailto"}
SUMMARY_LENGTH = 160


def render_markdown(text: str) -> str:
    """`text` (Markdown) as sanitised HTML; links get rel="noopener noreferrer nofollow"."""
    html = _markdown.render(text or "")
    return nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes=URL_SCHEMES,
                     link_rel="noopener noreferrer nofollow")


def plain_summary(rendered: str, *, length: int = SUMMARY_LENGTH) -> str:
    """The rendered text without tags, cut at a word near `length` (meta descriptions, snippets)."""
    text = nh3.clean(rendered, tags=set())
    text = re.sub(r"\s+", " ", html.unescape(text)).strip()
    if len(text) <= length:
        return text
    cut = text[:length].rsplit(" ", 1)[0]
    return f"{cut}…"

