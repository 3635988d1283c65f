"""A feed's RSS 2.0 document, its episodes' JSON chapters, and a whole book's joined transcript.

Plain functions of ``audiobooks.feeds``' episodes and a function that makes
a URL absolute; no queries. The tags are RSS 2.0's, Apple's ``itunes:`` and
Podcasting 2.0's ``podcast:`` (``chapters``, ``transcript``, ``locked``).
Every feed is private: ``itunes:block`` keeps it out of directories.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from email.utils import format_datetime
from xml.etree import ElementTree as ET

from audiobooks.audio.captions import timestamp
from audiobooks.feeds import Episode
from audiobooks.models import Book

ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST = "https://podcastindex.org/namespace/1.0"
ATOM = "http://www.w3.org/2005/Atom"
ET.register_namespace("itunes", ITUNES)
ET.register_namespace("podcast", PODCAST)
ET.register_namespace("atom", ATOM)

JSON_CHAPTERS_TYPE = "application/json+chapters"


def _tag(parent: ET.Element, name: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, name, attributes)
    if text is not None:
        element.text = text
    return element


class FeedUrls:
    """Where a feed's files are: the web view's URL names, bound to one token and made absolute."""

    def __init__(self, *, absolute: Callable[[str], str], reverse: Callable[..., str], token: str):
        self._absolute, self._reverse, self._token = absolute, reverse, token

    def _url(self, name: str, **kwargs: object) -> str:
        return self._absolute(self._reverse(f"audiobooks:{name}", kwargs={"token": self._token, **kwargs}))

    def feed(self) -> str:
        return self._url("podcast-feed")

    def audio(self, episode: Episode) -> str:
        if episode.number is None:
            return self._url("podcast-m4b", conversion_uuid=episode.conversion.uuid)
        return self._url("podcast-mp3", conversion_uuid=episode.conversion.uuid, number=episode.number)

    def transcript(self, episode: Episode) -> str:
        if episode.number is None:
            return self._url("podcast-book-transcript", conversion_uuid=episode.conversion.uuid)
        return self._url("podcast-vtt", conversion_uuid=episode.conversion.uuid, number=episode.number)

    def chapters(self, episode: Episode) -> str:
        return self._url("podcast-chapters", conversion_uuid=episode.conversion.uuid)

    def cover(self, book: Book) -> str:
        return self._url("podcast-cover", book_uuid=book.uuid)


def rss_document(
    *,
    title: str,
    description: str,
    author: str,
    language: str,
    site_url: str,
    cover_book: Book | None,
    serial: bool,
    episodes: Iterable[Episode],
    urls: FeedUrls,
) -> bytes:
    """The feed as RSS 2.0 bytes (UTF-8, with its XML declaration)."""
    rss = ET.Element("rss", {"version": "2.0"})
    channel = _tag(rss, "channel")
    _tag(channel, "title", title)
    _tag(channel, "link", site_url)
    _tag(channel, "description", description)
    _tag(channel, "language", language or "en")
    _tag(channel, f"{{{ATOM}}}link", href=urls.feed(), rel="self", type="application/rss+xml")
    _tag(channel, f"{{{ITUNES}}}author", author)
    _tag(channel, f"{{{ITUNES}}}explicit", "false")
    _tag(channel, f"{{{ITUNES}}}block", "Yes")
    _tag(channel, f"{{{ITUNES}}}type", "serial" if serial else "episodic")
    _tag(channel, f"{{{PODCAST}}}locked", "yes")
    if cover_book is not None and cover_book.cover_key:
        _tag(channel, f"{{{ITUNES}}}image", href=urls.cover(cover_book))
    for episode in episodes:
        _item(channel, episode, urls)
    ET.indent(rss)
    return ET.tostring(rss, encoding="utf-8", xml_declaration=True)


def _item(channel: ET.Element, episode: Episode, urls: FeedUrls) -> None:
    item = _tag(channel, "item")
    _tag(item, "title", episode.title)
    _tag(item, "guid", episode.guid, isPermaLink="false")
    _tag(item, "pubDate", format_datetime(episode.published_at))
    authors = episode.book.authors_text
    _tag(item, "description", f"{episode.book.display_title}{f' by {authors}' if authors else ''}")
    _tag(
        item,
        "enclosure",
        url=urls.audio(episode),
        length=str(episode.audio.size),
        type=episode.audio.content_type,
    )
    _tag(item, f"{{{ITUNES}}}duration", str(round(episode.duration_ms / 1000)))
    if authors:
        _tag(item, f"{{{ITUNES}}}author", authors)
    if episode.number is not None:
        _tag(item, f"{{{ITUNES}}}episode", str(episode.number))
    if episode.book.cover_key:
        _tag(item, f"{{{ITUNES}}}image", href=urls.cover(episode.book))
    if episode.chapters:
        _tag(item, f"{{{PODCAST}}}chapters", url=urls.chapters(episode), type=JSON_CHAPTERS_TYPE)
    if episode.has_transcript:
        _tag(
            item,
            f"{{{PODCAST}}}transcript",
            url=urls.transcript(episode),
            type="text/vtt",
            language=episode.book.language or "en",
        )


def json_chapters(episode: Episode) -> str:
    """Podcasting 2.0's JSON chapters (version 1.2.0) of a whole book's episode."""
    chapters = [{"startTime": mark.start_ms / 1000, "title": mark.title} for mark in episode.chapters]
    return json.dumps({"version": "1.2.0", "chapters": chapters}, ensure_ascii=False)


_TIME = re.compile(r"^(?:(\d+):)?(\d{2}):(\d{2})\.(\d{3})$")


def _ms(text: str) -> int:
    match = _TIME.match(text.strip())
    if match is None:
        raise ValueError(f"not a WebVTT timestamp: {text!r}")
    hours, minutes, seconds, millis = (int(group or 0) for group in match.groups())
    return ((hours * 60 + minutes) * 60 + seconds) * 1000 + millis


def joined_vtt(chapters: Iterable[tuple[int, str]]) -> Iterator[str]:
    """One WebVTT of a whole book from its chapters' captions, each shifted to where it starts in the M4B.

    ``chapters``: (the chapter's start in ms, its WebVTT text), in order.
    Only cues are kept (a chapter file's header and notes are its own).
    """
    yield "WEBVTT\n"
    for start_ms, text in chapters:
        for block in re.split(r"\r?\n\r?\n", text.strip()):
            lines = block.splitlines()
            timing = next((index for index, line in enumerate(lines) if "-->" in line), None)
            if timing is None:
                continue  # the header, a NOTE or a STYLE block
            begin, _, rest = lines[timing].partition("-->")
            end, *settings = rest.split()
            shifted = f"{timestamp(_ms(begin) + start_ms)} --> {timestamp(_ms(end) + start_ms)}"
            yield "\n" + " ".join([shifted, *settings]) + "\n" + "\n".join(lines[timing + 1 :]) + "\n"
