"""Sanitise rich text written by focal points before it is stored or shown."""

import nh3

ALLOWED_TAGS = {
    "p", "br", "strong", "b", "em", "i", "u", "s", "ul", "ol", "li", "blockquote",
    "h2", "h3", "h4", "a", "table", "thead", "tbody", "tr", "th", "td", "hr", "code", "pre",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"scope"}, "td": {"colspan", "rowspan"}}


def clean_html(html: str) -> str:
    """Keep only safe formatting; drop scripts, styles, event handlers and odd URL schemes."""
    return nh3.clean(
        html or "",
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )


def plain_text(html: str) -> str:
    """The text of `html` without any tag, for search and feed summaries."""
    return " ".join(nh3.clean(html or "", tags=set()).split())
