"""Blocks that list other articles of the same site, found by their structure and removed
from the page before the article is extracted.

"Latest", "related" and "most read" blocks are worded differently on every site, or carry
no heading at all, but they are built alike: each entry is a link to another article of the
same site whose text is a headline, and little else stands beside it (a date, a time, a
view counter, a section name, a thumbnail). Such an entry is removed wherever it is, also
between the article's paragraphs; then the list around removed entries, when what is left
of it is only a heading, dates and labels; and a short heading just before a run of them.

What stays: a paragraph with a link inside a sentence, a paragraph quoting another
headline ("Recall: “…”." ends like a sentence), links to the page itself, short links
(menus, tags, "all news"), and links to other sites. Nothing here depends on the language
of the page or the wording of a heading.

Removing them from the tree, rather than lines from the extracted text, also helps the
extractor: a short article followed by a list of links in the same container looks like a
page of links, and was lost whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from lxml import etree
from lxml.html import HtmlElement

from monitor.dates import is_month_word
from monitor.urls import canonical_url, same_site

# Block-level elements: a link's entry is its nearest one of these.
_BLOCKS = frozenset(
    {
        "p", "li", "dd", "dt", "td", "th", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "div",
        "article", "section", "blockquote", "figure", "figcaption", "header", "footer",
        "aside", "nav", "ul", "ol", "dl", "table", "tbody", "thead", "main", "form", "center",
        "details",
    }
)  # fmt: skip
_CONTAINERS = frozenset({"ul", "ol", "dl", "table", "tbody", "thead", "body", "html", "main"})
_NOT_PAGES = ("#", "javascript:", "mailto:", "tel:", "data:")

HEADLINE_WORDS = 3  # a link is a headline when its text has this many words ...
HEADLINE_CHARS = 15  # ... and this many characters
HEADING_WORDS = 6  # a heading's words: beside an entry's link, or left of a list
LIST_ENTRIES = 2  # removed entries that make their container a list of links

# Links long enough to hold a headline (three words or more), or thumbnails that may name
# one, found by libxml2; not inside the elements trafilatura drops whole anyway (a page's
# menus carry a hundred links not worth a look from Python).
_CANDIDATES = etree.XPath(
    "//a[@href][not(ancestor::nav or ancestor::aside or ancestor::footer or ancestor::menu"
    " or ancestor::form)][(string-length(normalize-space()) >= $chars"
    " and contains(substring-after(normalize-space(), ' '), ' ')) or @title or .//img[@alt]]"
)
_WORD = re.compile(r"[^\W\d_]+")
# Ends like a sentence: a full stop after a word, maybe inside quotes or brackets.
_SENTENCE_END = re.compile(r"[^\W\d_][\s\"'»”’)\]]*[.!?…؟।]+[\"'»”’)\]]*\s*$")
# Prose: four words in a row and a sentence end ("24 марта 2022 г." is not: digits).
_PROSE = re.compile(r"(?:[^\W\d_]+[^\w.!?…؟]+){3,}[^\W\d_]+[\"'»”’)\]]*[.!?…؟]")


@dataclass
class _Entry:
    block: HtmlElement
    labels: list[str] = field(default_factory=list)  # headline texts of its links


def _text(element: HtmlElement) -> str:
    return " ".join(element.text_content().split())


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def _real_words(text: str) -> int:
    """Words that say something: not dates' month names, not one- or two-letter words."""
    return sum(1 for w in _WORD.findall(text) if len(w) > 2 and not is_month_word(w))


def _page_key(url: str) -> str:
    """A URL reduced to what names a page: host without www, path without a final "/"."""
    parts = urlsplit(canonical_url(url))
    host = (parts.hostname or "").removeprefix("www.")
    return f"{host}{parts.path.rstrip('/')}?{parts.query}"


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


def _labels(link: HtmlElement) -> list[str]:
    """What a link says: its text, else (a thumbnail) its title or its image's alt."""
    text = _text(link)
    if text:
        return [text]
    alts = [link.get("title") or ""] + [img.get("alt") or "" for img in link.iter("img")]
    return [" ".join(a.split()) for a in alts if a.strip()]


def _is_headline(label: str) -> bool:
    return len(label) >= HEADLINE_CHARS and len(_words(label)) >= HEADLINE_WORDS


def _entry_block(link: HtmlElement) -> HtmlElement:
    """The entry a link stands in: its nearest block-level ancestor, or the link itself
    when that ancestor is a list or the page (links laid straight into a container)."""
    node = link.getparent()
    while node is not None and node.tag not in _BLOCKS:
        node = node.getparent()
    if node is None or node.tag in _CONTAINERS:
        return link
    return node


_LINK = "\x00"  # stands for a link's text in an entry's text


def _is_sentence(before: str, after: str) -> bool:
    """Whether a link stands in a sentence ("Recall: «…»." or "As the agency wrote in
    “…”, the talks go on.", or a sentence that opens with a link): words before it and a
    sentence end or more words after it, or words after it up to a sentence end. Only the
    text between the link and the entry's other links counts."""
    # The link's own text ends in a word: "x" stands for it before what follows.
    ends = _SENTENCE_END.search("x" + after) is not None
    if _real_words(before) == 0:
        return ends and _real_words(after) >= 2
    return ends or _real_words(after) >= 2


def _is_entry(entry: _Entry) -> bool:
    """A block holding headline links and little else: no sentence around them, and beside
    them no more words than a heading (a label, a section, a counter word) and one label per
    further link ("Latest: H1 | H2 | H3")."""
    text = _text(entry.block)
    for link in entry.block.iter("a"):
        for label in _labels(link):
            text = text.replace(label, _LINK, 1)
    rest = text.replace(_LINK, " ")
    links = text.count(_LINK)
    if _real_words(rest) > HEADING_WORDS + links - 1 or _PROSE.search(rest):
        return False
    gaps = text.split(_LINK)  # the text before the first link, between links, after the last
    pairs = [(gaps[i], gaps[i + 1]) for i in range(len(gaps) - 1)] + [(gaps[0], gaps[-1])]
    return not any(_is_sentence(before, after) for before, after in pairs)


def _is_leftover(text: str, entries: int) -> bool:
    """What a list keeps once its entries are gone: a heading, dates, labels."""
    return _real_words(text) <= HEADING_WORDS + entries and not _PROSE.search(text)


def _is_heading(element: HtmlElement) -> bool:
    text = _text(element)
    words = _real_words(text)
    return (
        0 < words <= HEADING_WORDS
        and len(text) <= 80
        and not _SENTENCE_END.search(text)
        and element.find(".//h1") is None
        and element.tag != "h1"
    )


def _find_entries(
    tree: HtmlElement, page_url: str, own: set[str], title: str | None
) -> list[_Entry]:
    entries: dict[HtmlElement, _Entry] = {}
    folded_title = _fold(title) if title else None
    for link in _CANDIDATES(tree, chars=HEADLINE_CHARS):
        href = (link.get("href") or "").strip()
        if not href or href.startswith(_NOT_PAGES):
            continue
        labels = [label for label in _labels(link) if _is_headline(label)]
        if not labels:
            continue
        target = urljoin(page_url, href)
        if not same_site(target, page_url) or _page_key(target) in own:
            continue
        if folded_title and any(folded_title in _fold(label) for label in labels):
            continue  # the article itself, listed under another address
        block = _entry_block(link)
        entries.setdefault(block, _Entry(block)).labels.extend(labels)
    return list(entries.values())


def _lists(removed: list[HtmlElement]) -> list[HtmlElement]:
    """The containers to remove with their entries: for each run of ancestors holding at
    least LIST_ENTRIES removed entries, the highest whose leftover text is only furniture.
    Never an element holding the page's <h1>. Judged on the tree once entries are gone."""
    counts: dict[HtmlElement, int] = {}
    parents: list[HtmlElement] = []
    for block in removed:
        node = block.getparent()
        if node is not None:
            parents.append(node)
        while node is not None and node.tag not in ("body", "html"):
            counts[node] = counts.get(node, 0) + 1
            node = node.getparent()
    for block in removed:
        block.drop_tree()
    chosen: dict[HtmlElement, None] = {}
    verdicts: dict[HtmlElement, bool] = {}
    for start in parents:
        node, best = start, None
        while node is not None and node.tag not in ("body", "html"):
            n = counts.get(node, 0)
            if n < LIST_ENTRIES:
                node = node.getparent()
                continue
            if node not in verdicts:
                verdicts[node] = node.find(".//h1") is None and _is_leftover(_text(node), n)
            if not verdicts[node]:
                break
            best = node
            node = node.getparent()
        if best is not None:
            chosen[best] = None
    return list(chosen)


def _headings_before(removed: Iterable[HtmlElement]) -> list[HtmlElement]:
    """A short heading right before a run of at least two removed sibling entries."""
    gone = set(removed)
    out = []
    for block in gone:
        previous = block.getprevious()
        if previous is not None and previous in gone:
            continue  # not the first of its run
        following = block.getnext()
        if following is None or following not in gone:
            continue
        if previous is not None and not isinstance(previous.tag, str):
            previous = previous.getprevious()  # a comment between
        if previous is not None and isinstance(previous.tag, str) and _is_heading(previous):
            out.append(previous)
    return out


def drop_link_blocks(
    tree: HtmlElement, page_url: str, *, also: Iterable[str] = (), title: str | None = None
) -> int:
    """Remove from ``tree`` the entries, lists and headings of blocks listing other
    articles of the page's site; the number of entries removed.

    ``also``: other addresses of the page (canonical URL); ``title``: the article's title,
    so that a block listing the article itself under another address keeps nothing of it.
    """
    own = {_page_key(u) for u in (page_url, *also) if u}
    found = [e for e in _find_entries(tree, page_url, own, title) if _is_entry(e)]
    if not found:
        return 0
    chosen = {e.block for e in found}
    blocks = [b for b in chosen if not any(a in chosen for a in b.iterancestors())]
    headings = _headings_before(blocks)
    for element in _lists(blocks) + headings:
        element.drop_tree()
    return len(blocks)
