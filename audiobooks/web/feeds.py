"""Private podcast feeds: the owner's page to make, renew and end them; and what podcast apps fetch.

The feeds page is behind sign-in. Everything under ``/podcast/<token>/`` is
for podcast apps, which cannot sign in: the token is the key, checked by
``audiobooks.feeds.feed_by_token`` (a renewed or revoked one is a 404). An
episode's audio, captions and cover are stable URLs that answer 302 to a
fresh short-lived link at every request, so an app that keeps an enclosure
URL for days still plays it, and HTTP Range works on the link it lands on.
"""

from __future__ import annotations

from io import BytesIO
from uuid import UUID

import qrcode
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_POST, require_safe
from qrcode.image.svg import SvgPathImage

from audiobooks import feeds, selectors
from audiobooks.delivery import podcast
from audiobooks.errors import BookError
from audiobooks.models import PodcastFeed, StoredObject
from audiobooks.storage import backend, links
from audiobooks.storage.headers import attachment_name

from .common import user_of


class InvalidBook(BookError):
    code = "invalid_book"


def _feed_url(request: HttpRequest, feed: PodcastFeed) -> str:
    return request.build_absolute_uri(
        reverse("audiobooks:podcast-feed", kwargs={"token": feeds.feed_token(feed)})
    )


@login_required
@require_safe
def feeds_page(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    own = [(feed, _feed_url(request, feed)) for feed in feeds.feeds_for_user(user=user)]
    with_feed = {feed.book_id for feed, _ in own}
    context = {
        "feeds": own,
        "has_own_feed": None in with_feed,
        "books": [row.book for row in selectors.library_for_user(user=user) if row.book.id not in with_feed],
    }
    response = render(request, "audiobooks/feeds.html", context)
    patch_cache_control(response, private=True, no_store=True)  # the page shows secret URLs
    return response


@login_required
@require_POST
def feed_new(request: HttpRequest) -> HttpResponse:
    """Form: ``book`` (a book's id, or empty for the feed of every finished audiobook)."""
    raw = request.POST.get("book", "").strip()
    try:
        book_uuid = UUID(raw) if raw else None
    except ValueError:
        raise InvalidBook("Choose one of your books for its feed.") from None
    # A second feed of the same kind (FeedExists) is answered by ebookvoice.refusals, as a 409 page.
    feeds.feed_create(user=user_of(request), book_uuid=book_uuid)
    messages.success(request, "Your podcast feed is ready: add its address to your podcast app.")
    return redirect("audiobooks:feeds")


@login_required
@require_POST
def feed_renew(request: HttpRequest, feed_uuid: UUID) -> HttpResponse:
    feeds.feed_token_renew(user=user_of(request), feed_uuid=feed_uuid)
    messages.success(request, "The feed has a new address. The old one no longer works.")
    return redirect("audiobooks:feeds")


@login_required
@require_POST
def feed_revoke(request: HttpRequest, feed_uuid: UUID) -> HttpResponse:
    feeds.feed_revoke(user=user_of(request), feed_uuid=feed_uuid)
    messages.success(request, "The feed is switched off. Podcast apps can no longer fetch it.")
    return redirect("audiobooks:feeds")


@login_required
@require_safe
def feed_qr(request: HttpRequest, feed_uuid: UUID) -> HttpResponse:
    """The feed's address as a QR code (SVG), to point a phone's podcast app at it."""
    feed = next((f for f in feeds.feeds_for_user(user=user_of(request)) if f.uuid == feed_uuid), None)
    if feed is None:
        return HttpResponse("No such feed.", status=404, content_type="text/plain; charset=utf-8")
    buffer = BytesIO()
    qrcode.make(_feed_url(request, feed), image_factory=SvgPathImage, box_size=8).save(buffer)
    response = HttpResponse(buffer.getvalue(), content_type="image/svg+xml")
    patch_cache_control(response, private=True, no_store=True)
    return response


# --- For podcast apps: the token is the key -----------------------------------------------------


@require_safe
def podcast_feed(request: HttpRequest, token: str) -> HttpResponse:
    feed = feeds.feed_by_token(token)
    urls = podcast.FeedUrls(absolute=request.build_absolute_uri, reverse=reverse, token=token)
    owner = feed.owner.get_full_name() or feed.owner.email
    if feed.book is not None:
        book = feed.book
        title, serial = book.display_title, True
        description = (
            f"{book.display_title}{f' by {book.authors_text}' if book.authors_text else ''}, read aloud"
        )
        author, language = book.authors_text or owner, book.language
    else:
        title, serial, book = f"{owner}’s audiobooks", False, None
        description = "Every audiobook you finished on eBookVoice. Private: this address is yours alone."
        author, language = owner, ""
    body = podcast.rss_document(
        title=title,
        description=description,
        author=author,
        language=language,
        site_url=request.build_absolute_uri("/"),
        cover_book=book,
        serial=serial,
        episodes=feeds.feed_episodes(feed),
        urls=urls,
    )
    response = HttpResponse(body, content_type="application/rss+xml; charset=utf-8")
    patch_cache_control(response, private=True, max_age=300)
    return response


def _to_link(request: HttpRequest, stored: StoredObject, filename: str) -> HttpResponseRedirect:
    link = links.download_link(
        key=stored.key,
        filename=attachment_name(stored.filename or filename),
        content_type=stored.content_type,
        disposition="inline",
    )
    response = HttpResponseRedirect(request.build_absolute_uri(link.url))
    patch_cache_control(response, private=True, no_store=True)
    return response


@require_safe
def podcast_m4b(request: HttpRequest, token: str, conversion_uuid: UUID) -> HttpResponseRedirect:
    feed = feeds.feed_by_token(token)
    conversion = feeds.feed_conversion(feed, conversion_uuid)
    stored = feeds.feed_file(feed, conversion, kind="m4b")
    return _to_link(request, stored, f"{conversion.book.display_title}.m4b")


@require_safe
def podcast_mp3(request: HttpRequest, token: str, conversion_uuid: UUID, number: int) -> HttpResponseRedirect:
    feed = feeds.feed_by_token(token)
    conversion = feeds.feed_conversion(feed, conversion_uuid)
    stored = feeds.feed_file(feed, conversion, kind="mp3", number=number)
    return _to_link(request, stored, f"{conversion.book.display_title} - {number:02d}.mp3")


@require_safe
def podcast_vtt(request: HttpRequest, token: str, conversion_uuid: UUID, number: int) -> HttpResponseRedirect:
    feed = feeds.feed_by_token(token)
    conversion = feeds.feed_conversion(feed, conversion_uuid)
    stored = feeds.feed_file(feed, conversion, kind="vtt", number=number)
    return _to_link(request, stored, f"{conversion.book.display_title} - {number:02d}.vtt")


@require_safe
def podcast_book_transcript(request: HttpRequest, token: str, conversion_uuid: UUID) -> HttpResponseBase:
    """A whole book's captions as one WebVTT, each chapter's cues shifted to its place in the M4B."""
    feed = feeds.feed_by_token(token)
    conversion = feeds.feed_conversion(feed, conversion_uuid)
    chapters = feeds.conversion_captions(feed, conversion)
    texts = ((start, b"".join(backend.object_chunks(row.key)).decode("utf-8")) for start, row in chapters)
    response = StreamingHttpResponse(podcast.joined_vtt(texts), content_type="text/vtt; charset=utf-8")
    patch_cache_control(response, private=True, max_age=300)
    return response


@require_safe
def podcast_chapters(request: HttpRequest, token: str, conversion_uuid: UUID) -> HttpResponse:
    feed = feeds.feed_by_token(token)
    conversion = feeds.feed_conversion(feed, conversion_uuid)
    episode = next(
        (e for e in feeds.feed_episodes(feed) if e.conversion.pk == conversion.pk and e.chapters), None
    )
    if episode is None:
        return HttpResponse("No chapters.", status=404, content_type="text/plain; charset=utf-8")
    response = HttpResponse(podcast.json_chapters(episode), content_type=podcast.JSON_CHAPTERS_TYPE)
    patch_cache_control(response, private=True, max_age=300)
    return response


@require_safe
def podcast_cover(request: HttpRequest, token: str, book_uuid: UUID) -> HttpResponseRedirect:
    feed = feeds.feed_by_token(token)
    book, stored = feeds.feed_cover(feed, book_uuid)
    return _to_link(request, stored, f"{book.display_title} cover")
