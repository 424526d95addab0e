"""HTML helpers shared by every stage: plain text, hyperlinks, URL keys.

Post HTML comes from the web: these functions never raise on bad markup; they return what
they could read.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import urljoin, urlsplit, urlunsplit

from lxml import etree
from lxml import html as lxml_html

BLOCK_TAGS = frozenset(
    "p div h1 h2 h3 h4 h5 h6 li ul ol blockquote pre table tr td th thead tbody tfoot "
    "figure figcaption section article header footer aside hr br dl dt dd details summary "
    "caption nav main".split()
)
_SKIP_TAGS = frozenset(("script", "style", "template", "noscript", "head"))
_WS = re.compile(r"[ \t\r\f\v\u00a0]+")
_NL = re.compile(r"\n\s*\n+")
_EDGE_WS = re.compile(r" ?\n ?")

# ForumMagnum post and comment ids: 17 characters of [A-Za-z0-9].
# ForumMagnum ids: 17 characters, or a legacy 24-hex Mongo id (posts imported from older sites)
_FM_ID = r"(?:[0-9a-f]{24}|[A-Za-z0-9]{17})"
FM_ID = re.compile(_FM_ID)  # fullmatch: whether a document id is shaped like a forum id
_FM_POST = re.compile(rf"/(?:posts|p|events)/({_FM_ID})(?:/|$)")
_FM_COMMENT = re.compile(rf"[?&]commentId=({_FM_ID})(?:&|$|#)")
_FM_LEGACY = re.compile(r"^/(lw|ea)/([0-9a-z]{1,8})(?:/([^/?#]+))?")
_FM_SLUG = re.compile(r"^/(?:posts|s/[^/]+/p|p)/[^/]+/([^/?#]+)")
# The version of link extraction: what extract_links / element_links, url_keys and url_key
# return for a document's HTML and URL. Bump it whenever they change what they return (a new
# link shape, a new forum host): a store whose links were made at another version has every
# document's links re-extracted (crux.db.relinking) the next time it is opened for writing.
# "1": stores built before bare URLs in the text became links and lessestwrong.com a forum host
# (stores without a record count as "1"); "2": since.
LINKS_VERSION = "2"

# The hosts that serve ForumMagnum URLs (and their mirrors). A post or comment id in a URL on
# any other host is just a path: a feed on another site cannot claim a forum post's id.
FORUM_HOSTS = (
    "lesswrong.com",
    "lesserwrong.com",
    "lessestwrong.com",  # an alias LessWrong served in 2020: its posts link each other through it
    "greaterwrong.com",
    "alignmentforum.org",
    "forum.effectivealtruism.org",
    "effective-altruism.com",
    "ea.greaterwrong.com",
    "alignment-forum.com",
    "agentfoundations.org",
    # reserved example names (RFC 2606) of the demo corpus's fictional forum and the
    # tests: no real site can be reached under them
    "forum.crux-demo.example",
    "forum.example",
)


_TAG = re.compile(r"<[^>]*>")
_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
MAX_DEPTH = 200


def parse_fragment(html: str) -> etree._Element | None:
    """Parse an HTML fragment into a ``<div>`` root; None when there is nothing to parse.

    libxml2 silently drops what is nested deeper than about 256 elements; when the tree
    lost text that way, the fragment is parsed again with its nesting capped at
    ``MAX_DEPTH`` (the text is kept, the surplus tags are not).
    """
    if not html or not html.strip():
        return None
    root, too_deep = _lxml_fragment(html)
    if too_deep:
        capped, _ = _lxml_fragment(cap_depth(html))
        if capped is not None:
            root = capped
    return root


def _lxml_fragment(html: str) -> tuple[etree._Element | None, bool]:
    """The parsed fragment, and whether libxml2 dropped content nested too deep."""
    parser = lxml_html.HTMLParser(huge_tree=True, remove_comments=True)
    try:
        root = lxml_html.fragment_fromstring(html, create_parent="div", parser=parser)
    except (etree.ParserError, ValueError, etree.XMLSyntaxError):
        return None, False
    too_deep = any(
        e.type_name == "ERR_RESOURCE_LIMIT" or "depth" in e.message.lower()
        for e in parser.error_log
    )
    return root, too_deep


def cap_depth(html: str, max_depth: int = MAX_DEPTH) -> str:
    """The same HTML with elements nested deeper than ``max_depth`` unwrapped (text kept)."""
    from html import escape
    from html.parser import HTMLParser

    out: list[str] = []
    stack: list[str] = []

    class _Capper(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag in _VOID:
                if len(stack) < max_depth:
                    out.append(self.get_starttag_text() or "")
                return
            if len(stack) < max_depth:
                out.append(self.get_starttag_text() or f"<{tag}>")
            stack.append(tag)

        def handle_endtag(self, tag: str) -> None:
            if tag not in stack:
                return
            while stack:
                top = stack.pop()
                if len(stack) < max_depth:
                    out.append(f"</{top}>")
                if top == tag:
                    break

        def handle_data(self, data: str) -> None:
            out.append(escape(data, quote=False))

    capper = _Capper(convert_charrefs=True)
    capper.feed(html)
    capper.close()
    while stack:
        top = stack.pop()
        if len(stack) < max_depth:
            out.append(f"</{top}>")
    return "".join(out)


def element_text(root: etree._Element | None) -> str:
    """Text of an element with blank lines between block elements and tags removed."""
    if root is None:
        return ""
    parts: list[str] = []
    _walk(root, parts)
    text = _WS.sub(" ", "".join(parts))
    text = _EDGE_WS.sub("\n", text)
    return _NL.sub("\n\n", text).strip()


def _walk(el: etree._Element, parts: list[str]) -> None:
    # Iterative: HTML from the web can nest thousands of levels deep. Newlines in text are
    # spaces, except inside <pre>; block elements make the line breaks.
    stack: list[tuple[etree._Element, bool, bool]] = [(el, False, False)]
    while stack:
        node, closing, in_pre = stack.pop()
        tag = node.tag.lower() if isinstance(node.tag, str) else ""
        if closing:
            if tag in BLOCK_TAGS:
                parts.append("\n\n")
            elif tag in ("td", "th"):
                parts.append(" ")
            if node.tail:
                parts.append(node.tail if in_pre else node.tail.replace("\n", " "))
            continue
        if not tag or tag in _SKIP_TAGS:
            if node.tail:
                parts.append(node.tail if in_pre else node.tail.replace("\n", " "))
            continue
        if tag in BLOCK_TAGS:
            parts.append("\n\n")
        child_pre = in_pre or tag == "pre"
        if node.text:
            parts.append(node.text if child_pre else node.text.replace("\n", " "))
        stack.append((node, True, in_pre))
        for child in reversed(node):
            stack.append((child, False, child_pre))


def html_to_text(html: str | None) -> str:
    """Plain text of an HTML fragment, one blank line between blocks."""
    return element_text(parse_fragment(html or ""))


def extract_links(html: str | None, base_url: str | None = None) -> list[tuple[str, str]]:
    """``(absolute_url, anchor_text)`` for each ``<a href>`` in the HTML, in document order."""
    return element_links(parse_fragment(html or ""), base_url)


def text_and_links(
    html: str | None, base_url: str | None = None
) -> tuple[str, list[tuple[str, str]]]:
    """:func:`html_to_text` and :func:`extract_links` from one parse."""
    root = parse_fragment(html or "")
    return element_text(root), element_links(root, base_url)


# A URL written out in the text: up to whitespace, markup-like and quote characters; the
# punctuation that ends a sentence is not part of it (nor an unbalanced closing bracket).
_BARE_URL = re.compile(r"""https?://[^\s<>"'\u201c\u201d\u2018\u2019\u00ab\u00bb]+""", re.I)
_URL_TAIL = ".,;:!?*"


def _bare_urls(text: str) -> list[str]:
    """The http(s) URLs written out in ``text``, in order. One shown cut short (``…``, as sites
    display long URLs) is no address and is left out."""
    out = []
    for m in _BARE_URL.finditer(text):
        url = m.group(0)
        if "\u2026" in url or text[m.end() : m.end() + 1] == "\u2026":
            continue
        while url and (
            url[-1] in _URL_TAIL
            or (url[-1] == ")" and url.count("(") < url.count(")"))
            or (url[-1] == "]" and url.count("[") < url.count("]"))
        ):
            url = url[:-1]
        try:
            parts = urlsplit(url)
        except ValueError:
            continue
        if parts.hostname and "." in parts.hostname:
            out.append(url)
    return out


def element_links(
    root: etree._Element | None, base_url: str | None = None
) -> list[tuple[str, str]]:
    """``(absolute_url, anchor_text)`` for each ``<a href>`` and each URL written out in the text
    (its anchor text is the URL itself; one that is the text of a link to the same page is that
    link), in document order."""
    if root is None:
        return []
    links: list[tuple[str, str]] = []

    def bare(text: str | None, href_key: str | None) -> None:
        for url in _bare_urls(text or ""):
            if href_key is None or url_key(url) != href_key:
                links.append((url, url[:500]))

    # Iterative, in document order (a node's text, then each child and its tail), as in _walk:
    # items are (element or text, the enclosing link's target key).
    stack: list[tuple[etree._Element | str, str | None]] = [(root, None)]
    while stack:
        node, href_key = stack.pop()
        if isinstance(node, str):
            bare(node, href_key)
            continue
        tag = node.tag.lower() if isinstance(node.tag, str) else ""
        if not tag or tag in _SKIP_TAGS:
            continue
        if tag == "a":
            url = _href(node, base_url)
            if url:
                text = _WS.sub(" ", node.text_content() or "").strip()
                links.append((url, text[:500]))
                href_key = url_key(url)
        bare(node.text, href_key)
        for child in reversed(node):
            if child.tail:
                stack.append((child.tail, href_key))
            stack.append((child, href_key))
    return links


def _href(a: etree._Element, base_url: str | None) -> str | None:
    """The absolute http(s) URL an ``<a>`` points at, or None (no href, a fragment, another
    scheme, a malformed one)."""
    href = (a.get("href") or "").strip()
    if not href or href.startswith(("#", "mailto:", "javascript:", "data:")):
        return None
    try:
        url = urljoin(base_url, href) if base_url else href
        urlsplit(url)
    except ValueError:
        return None  # a malformed href (e.g. "http://[bad") is not a link
    return url if url.startswith(("http://", "https://")) else None


def is_forum_host(host: str) -> bool:
    """Whether ``host`` (lowercase, without ``www.``) serves ForumMagnum URLs.

    Exact names or their subdomains only: ``lesswrong.com.evil.example``,
    ``evil-lesswrong.com`` and punycode look-alikes (``xn--...``) are other hosts."""
    return any(host == h or host.endswith("." + h) for h in FORUM_HOSTS)


# Which forum's posts a forum host serves: mirrors and old names share their site's ids.
_FORUM_SITES = (
    ("ea", ("forum.effectivealtruism.org", "effective-altruism.com", "ea.greaterwrong.com")),
    (
        "lw",
        (
            "lesswrong.com",
            "lesserwrong.com",
            "lessestwrong.com",
            "greaterwrong.com",
            "alignmentforum.org",
            "alignment-forum.com",
        ),
    ),
)


def forum_site(host: str) -> str | None:
    """The forum whose ids ``host`` (bare, as :func:`url_host` gives it) may carry: ``lw``, ``ea``,
    the host itself for the other forum hosts, or None for a host that is no forum's."""
    if not is_forum_host(host):
        return None
    for site, hosts in _FORUM_SITES:
        if any(host == h or host.endswith("." + h) for h in hosts):
            return site
    return host


def forum_id(url: str | None) -> str | None:
    """The ForumMagnum post or comment id in a URL on a forum host, or None.

    ``/posts/<id>/<slug>``, ``/s/<sequence>/p/<id>``, ``/events/<id>``, ``?commentId=<id>``;
    ids of 17 characters or legacy 24-hex ids; LessWrong, LesserWrong, GreaterWrong, Alignment
    Forum and EA Forum hosts only."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if not is_forum_host(_bare_host(parts.hostname)):
        return None
    m = _FM_COMMENT.search("?" + parts.query) if parts.query else None
    if m:
        return m.group(1)
    m = _FM_POST.search(parts.path + "/")
    return m.group(1) if m else None


def url_keys(url: str | None) -> tuple[str | None, str | None]:
    """(key, second key) of a link target: :func:`url_key`, and a weaker key that also finds
    the post, or None. Legacy ``/lw/<base36>/<slug>`` and EA Forum ``/ea/<id>/<slug>`` URLs key
    as ``fm-legacy:<site>:<id>`` with ``fm-slug:<slug>`` second; forum post URLs with a slug
    have ``fm-slug:<slug>`` second (a post crossposted under another id); a comment's URL has
    its post's ``fm:<id>`` second."""
    key = url_key(url)
    if not key or not url:
        return key, None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return key, None
    if not is_forum_host(_bare_host(parts.hostname)):
        return key, None
    if "commentId" in (parts.query or ""):
        # a comment's URL: its post, when the comment itself is not in the corpus
        m = _FM_POST.search(parts.path + "/")
        return key, ("fm:" + m.group(1)) if m and "fm:" + m.group(1) != key else None
    m = _FM_SLUG.match(parts.path)
    if m and key.startswith("fm:") and "commentId" not in (parts.query or ""):
        return key, "fm-slug:" + m.group(1).lower()
    m = _FM_LEGACY.match(parts.path)
    if m and m.group(3):
        return key, "fm-slug:" + m.group(3).lower()
    return key, None


def forum_keys(
    post_id: str,
    *,
    slug: str | None = None,
    legacy_id: str | None = None,
    site_url: str | None = None,
    own_url: str | None = None,
    agent_foundations_id: str | None = None,
) -> list[str]:
    """Every key under which links reach a ForumMagnum post: its id, its slug, its legacy id
    (the site taken from ``site_url``'s host: ``ea`` for the EA Forum, else ``lw``), its
    agentfoundations.org item and, for a link post or a crosspost, its own ``url``."""
    keys = ["fm:" + post_id]
    if slug:
        keys.append("fm-slug:" + slug.lower())
    if legacy_id:
        site = "ea" if "effectivealtruism" in (url_host(site_url) or "") else "lw"
        legacy = str(legacy_id).strip().lower()
        keys.append(f"fm-legacy:{site}:{legacy}")
        if legacy.isdigit():  # stored in base 10; the old URLs spell it in base 36
            n, b36 = int(legacy), ""
            while True:
                n, r = divmod(n, 36)
                b36 = "0123456789abcdefghijklmnopqrstuvwxyz"[r] + b36
                if not n:
                    break
            keys.append(f"fm-legacy:{site}:{b36}")
    if agent_foundations_id:
        keys.append(f"agentfoundations.org/item?id={agent_foundations_id}")
    own = url_key(own_url)
    if own and own != "fm:" + post_id:
        keys.append(own)
    return list(dict.fromkeys(keys))


def url_key(url: str | None) -> str | None:
    """A normalised key under which two spellings of one page's URL meet.

    ForumMagnum URLs (on a forum host, :data:`FORUM_HOSTS`) key by post (or comment) id,
    whatever the host and slug, so a LessWrong post reached through the feed, GraphQL, a
    sequence URL or the Alignment Forum is one key; legacy ``/lw/<id>/`` and ``/ea/<id>/`` URLs
    key by legacy id (``fm-legacy:<site>:<id>``). Other URLs drop the scheme, ``www.``, the
    query, the fragment and a trailing slash.
    """
    if not url:
        return None
    try:
        fid = forum_id(url)
    except ValueError:
        return None
    if fid:
        return "fm:" + fid
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    host = _bare_host(parts.hostname)
    path = parts.path.rstrip("/") or "/"
    if not host:
        return None
    if is_forum_host(host):
        m = _FM_LEGACY.match(path)
        if m:
            return f"fm-legacy:{m.group(1)}:{m.group(2)}"
        if host == "agentfoundations.org" and path == "/item":
            q = re.search(r"(?:^|&)id=(\d+)", parts.query or "")
            if q:
                return f"agentfoundations.org/item?id={q.group(1)}"
    return host + path


def _bare_host(hostname: str | None) -> str:
    host = (hostname or "").lower().removesuffix(".")
    return host[4:] if host.startswith("www.") else host


def url_host(url: str | None) -> str:
    """The URL's host, lowercase, without ``www.`` ("" when there is none)."""
    try:
        return _bare_host(urlsplit((url or "").strip()).hostname)
    except ValueError:
        return ""


def content_hash(*parts: str | None) -> str:
    """A short, stable hash of the given strings (NUL-separated)."""
    h = hashlib.sha256()
    for p in parts:
        h.update((p or "").encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()[:20]


def canonical_url(url: str | None) -> str | None:
    """The URL without its fragment."""
    if not url:
        return None
    try:
        p = urlsplit(url.strip())
    except ValueError:
        return url
    return urlunsplit((p.scheme, p.netloc, p.path, p.query, ""))
