"""Post HTML comes from the web: this is the only way it reaches a page.

``clean_html`` runs nh3 (ammonia) with a small allow-list: text formatting, links, lists,
quotes, tables and images. No script/style/iframe/object/embed/form, no SVG or MathML, no
``style``/``class``/``id`` or event-handler attributes, and URLs only with http(s) or mailto
(relative URLs are kept; ``javascript:``/``data:`` URLs are dropped). Templates mark only
this function's output ``|safe``.
"""

from __future__ import annotations

ALLOWED_TAGS: frozenset[str] = frozenset(
    {
        "a",
        "abbr",
        "b",
        "blockquote",
        "br",
        "caption",
        "cite",
        "code",
        "dd",
        "del",
        "details",
        "dl",
        "dt",
        "em",
        "figcaption",
        "figure",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "ins",
        "kbd",
        "li",
        "mark",
        "ol",
        "p",
        "pre",
        "q",
        "s",
        "small",
        "span",
        "strong",
        "sub",
        "summary",
        "sup",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "u",
        "ul",
    }
)
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "ol": {"start"},
}
URL_SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto"})
# Dropped with everything inside them (others are unwrapped: their text is kept).
DROP_WITH_CONTENT: frozenset[str] = frozenset(
    {
        "script",
        "style",
        "iframe",
        "object",
        "embed",
        "svg",
        "math",
        "template",
        "noscript",
        "textarea",
        "select",
        "form",
        "frameset",
        "frame",
        "applet",
        "xmp",
        "noembed",
    }
)


def clean_html(html: str | None) -> str:
    """The allow-listed, well-formed version of ``html`` (``""`` for ``None``)."""
    if not html:
        return ""
    import nh3

    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROP_WITH_CONTENT),
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow ugc",
        set_tag_attribute_values={"img": {"loading": "lazy", "referrerpolicy": "no-referrer"}},
        strip_comments=True,
    )


__all__ = ["ALLOWED_TAGS", "clean_html"]
