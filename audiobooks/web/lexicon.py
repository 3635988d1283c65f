"""The pronunciation lexicon's pages: the reader's own (``/lexicon/``, from the account area) and a book's.

A book's page lists its likely problem words (capitalised words not in an
English word list, most frequent first), each with a field for the fix and
"Listen", which plays the word as the book's voice says it now, through the
voice previews' machinery and their rate limit; with a fix typed and not yet
saved, it plays the fix. Every refusal is the page again, with its message and
the refusal's own 4xx status, and nothing changed.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.models import User
from audiobooks.errors import LexiconFull, LexiconRefused
from audiobooks.lexicon import formats
from audiobooks.lexicon.checks import EntryInput
from audiobooks.lexicon.selectors import (
    book_problem_words,
    lexicon_entries,
    lexicon_export,
    lexicon_fixes_for_book,
)
from audiobooks.lexicon.services import (
    MAX_ENTRIES_PER_USER,
    lexicon_entry_delete,
    lexicon_entry_set,
    lexicon_import,
)
from audiobooks.lexicon.voicing import word_preview
from audiobooks.models import Book, Conversion
from audiobooks.pipeline.revisions import RevisionQuote, conversion_revise, revision_quote
from audiobooks.selectors import book_get_for_user, book_latest_conversion
from audiobooks.voices import previews
from credits.pricing import format_credits
from credits.ratelimits import Action, check_rate_limit
from ebookvoice.errors import DomainError
from tts_engine import lexicon as speech_lexicon

from .common import refusal, user_of

ENTRIES_PER_PAGE = 50
PROBLEM_WORDS_SHOWN = 100


def _entry_from(post: Any) -> EntryInput:
    return EntryInput(
        text=str(post.get("text", "")),
        respelling=str(post.get("respelling", "")),
        phonemes=str(post.get("phonemes", "")),
        case_sensitive=bool(post.get("case_sensitive")),
        whole_word=bool(post.get("whole_word")),
        note=str(post.get("note", "")),
    )


def _uuid(value: object) -> UUID | None:
    try:
        return UUID(str(value))
    except ValueError:
        return None


def _change(request: HttpRequest, *, user: User, book: Book | None) -> str:
    """Do what the posted form asks; what to tell the reader. Raises the refusals."""
    book_uuid = book.uuid if book is not None else None
    action = request.POST.get("action")
    if action == "save":
        entry = lexicon_entry_set(user=user, book_uuid=book_uuid, entry=_entry_from(request.POST))
        return f"“{entry.text}” will be said “{entry.phonemes or entry.respelling}”."
    if action == "delete":
        entry_uuid = _uuid(request.POST.get("entry"))
        if entry_uuid is None:
            raise LexiconRefused("Choose an entry to delete.")
        lexicon_entry_delete(user=user, entry_uuid=entry_uuid)
        return "The entry is deleted."
    if action == "import":
        upload = request.FILES.get("file")
        if upload is None:
            raise LexiconRefused("Choose a PLS or CSV file to import.")
        if upload.size is not None and upload.size > formats.MAX_FILE_BYTES:
            raise LexiconFull(f"A lexicon file can be at most {formats.MAX_FILE_BYTES // (1024 * 1024)} MB.")
        entries = formats.read_file(
            upload.read(formats.MAX_FILE_BYTES + 1), filename=upload.name or "", limit=MAX_ENTRIES_PER_USER
        )
        result = lexicon_import(user=user, book_uuid=book_uuid, entries=entries)
        return f"Imported: {result.created} new, {result.updated} updated."
    raise LexiconRefused("This form asks for nothing we know.")


def _user_context(user: User, page_number: str | None) -> dict[str, Any]:
    page = Paginator(lexicon_entries(user=user), ENTRIES_PER_PAGE).get_page(page_number)
    return {
        "entries": page,
        "page": page,
        "max_entries": MAX_ENTRIES_PER_USER,
        "limits": _limits(),
        "export_query": "",
    }


def _limits() -> dict[str, int]:
    return {
        "text": speech_lexicon.MAX_TEXT_CHARS,
        "respelling": speech_lexicon.MAX_RESPELLING_CHARS,
        "phonemes": speech_lexicon.MAX_PHONEMES,
    }


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def lexicon_page(request: HttpRequest) -> HttpResponse:
    """The reader's own lexicon: entries for every book, added, deleted, imported and exported."""
    user = user_of(request)
    if request.method == "POST":
        try:
            messages.success(request, _change(request, user=user, book=None))
        except DomainError as error:
            context = {**_user_context(user, None), "form": request.POST}
            return refusal(request, error, template="audiobooks/lexicon.html", context=context)
        return redirect("audiobooks:lexicon")
    response = render(request, "audiobooks/lexicon.html", _user_context(user, request.GET.get("page")))
    patch_cache_control(response, private=True, no_cache=True)
    return response


def _book_context(book: Book, *, quote: bool = False) -> dict[str, Any]:
    fixes = lexicon_fixes_for_book(book=book)
    latest = book_latest_conversion(book=book)
    revisable = latest if latest is not None and latest.status in Conversion.FINISHED else None
    revision: RevisionQuote | None = None
    revision_note = ""
    if revisable is not None and quote:
        # Asked for, not shown on every view: it cuts the whole book into Parts, as a revision would.
        try:
            revision = revision_quote(user=book.owner, conversion_uuid=revisable.uuid)
        except DomainError as error:
            revision_note = error.message
    words = [
        {"word": word, "count": count, "fix": fixes.get(word.casefold())}
        for word, count in book_problem_words(book=book, limit=PROBLEM_WORDS_SHOWN)
    ]
    return {
        "book": book,
        "words": words,
        "entries": lexicon_entries(user=book.owner, book_uuid=book.uuid),
        "max_entries": MAX_ENTRIES_PER_USER,
        "limits": _limits(),
        "export_query": f"?book={book.uuid}",
        "revisable": revisable,
        "revision": revision,
        "revision_note": revision_note,
    }


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def book_lexicon_page(request: HttpRequest, book_uuid: UUID) -> HttpResponse:
    """A book's problem words and its own entries; fixes saved here are for this book only."""
    user = user_of(request)
    book = book_get_for_user(user=user, book_uuid=book_uuid)
    if request.method == "POST":
        try:
            messages.success(request, _change(request, user=user, book=book))
        except DomainError as error:
            context = {**_book_context(book), "form": request.POST}
            return refusal(request, error, template="audiobooks/book_lexicon.html", context=context)
        return redirect("audiobooks:book-lexicon", book_uuid=book.uuid)
    context = _book_context(book, quote=request.GET.get("quote") == "1")
    response = render(request, "audiobooks/book_lexicon.html", context)
    patch_cache_control(response, private=True, no_cache=True)
    return response


@login_required
@require_POST
def book_revise(request: HttpRequest, book_uuid: UUID) -> HttpResponse:
    """Make the book's audiobook again with its fixes: only the Parts that change are rendered and charged."""
    user = user_of(request)
    book = book_get_for_user(user=user, book_uuid=book_uuid)
    conversion_uuid = _uuid(request.POST.get("conversion"))
    try:
        if conversion_uuid is None:
            raise LexiconRefused("Choose the audiobook to make again.")
        revision = conversion_revise(user=user, conversion_uuid=conversion_uuid)
    except DomainError as error:
        return refusal(request, error, template="audiobooks/book_lexicon.html", context=_book_context(book))
    changed = revision.characters - revision.reused_characters
    messages.success(
        request,
        f"Making your audiobook again: {changed:,} of {revision.characters:,} characters change, "
        f"for {format_credits(revision.charge_hundredths)} credits. The previous one plays until it is done.",
    )
    return redirect("audiobooks:book-detail", book_uuid=book.uuid)


@login_required
@require_POST
def book_lexicon_listen(request: HttpRequest, book_uuid: UUID) -> HttpResponse:
    """The word (``text``) as the book's voice says it now, as MP3; with ``respelling`` or ``phonemes``, so.

    The same limit as every text preview (``RATE_LIMIT_TEXT_PREVIEWS``), counted
    only once the request is one we would serve.
    """
    user = user_of(request)
    book = book_get_for_user(user=user, book_uuid=book_uuid)
    try:
        preview = word_preview(
            book=book,
            text=str(request.POST.get("text", "")),
            respelling=str(request.POST.get("respelling", "")),
            phonemes=str(request.POST.get("phonemes", "")),
        )
        check_rate_limit(request_or_key=request, action=Action.TEXT_PREVIEW)
        audio = previews.text_preview_synthesize(preview=preview)
    except DomainError as error:
        return refusal(request, error)
    response = HttpResponse(audio, content_type="audio/mpeg")
    response["Content-Disposition"] = 'inline; filename="word.mp3"'
    patch_cache_control(response, private=True, no_store=True)
    return response


@login_required
@require_safe
def lexicon_download(request: HttpRequest, kind: str) -> HttpResponse:
    """``/lexicon/export.pls`` or ``.csv``; ``?book=`` for one book's own entries."""
    user = user_of(request)
    book_uuid = _uuid(request.GET.get("book")) if request.GET.get("book") else None
    if request.GET.get("book") and book_uuid is None:
        return refusal(request, LexiconRefused("That is not one of your books."))
    entries = lexicon_export(user=user, book_uuid=book_uuid)
    if kind == "pls":
        response = HttpResponse(formats.write_pls(entries), content_type="application/pls+xml")
    else:
        response = HttpResponse(formats.write_csv(entries), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="lexicon.{kind}"'
    patch_cache_control(response, private=True, no_store=True)
    return response
