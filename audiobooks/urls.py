from __future__ import annotations

from django.urls import path

from .web import (
    book_page,
    convert,
    credits,
    downloads,
    lexicon,
    library,
    local_links,
    player,
    uploads,
    voices,
)

app_name = "audiobooks"

urlpatterns = [
    # The reader's pages.
    path("books/", library.library, name="library"),
    path("books/new", library.book_new, name="book-new"),
    path("books/<uuid:book_uuid>/", book_page.book_detail, name="book-detail"),
    path("books/<uuid:book_uuid>/convert", convert.book_convert, name="book-convert"),
    path("books/<uuid:book_uuid>/quote", convert.book_quote, name="book-quote"),
    path("books/<uuid:book_uuid>/status", book_page.book_status, name="book-status"),
    path("books/<uuid:book_uuid>/delete", book_page.book_delete, name="book-delete"),
    path(
        "books/<uuid:book_uuid>/conversions/<uuid:conversion_uuid>/cancel",
        book_page.conversion_cancel,
        name="conversion-cancel",
    ),
    path("books/<uuid:book_uuid>/captions/<int:number>.vtt", player.book_captions, name="book-captions"),
    path("books/<uuid:book_uuid>/position", player.book_position, name="book-position"),
    path("books/<uuid:book_uuid>/lexicon", lexicon.book_lexicon_page, name="book-lexicon"),
    path("books/<uuid:book_uuid>/lexicon/listen", lexicon.book_lexicon_listen, name="book-lexicon-listen"),
    path("books/<uuid:book_uuid>/revise", lexicon.book_revise, name="book-revise"),
    path("credits/", credits.credits_page, name="credits"),
    path("lexicon/", lexicon.lexicon_page, name="lexicon"),
    path("lexicon/export.pls", lexicon.lexicon_download, {"kind": "pls"}, name="lexicon-export-pls"),
    path("lexicon/export.csv", lexicon.lexicon_download, {"kind": "csv"}, name="lexicon-export-csv"),
    # Files: the streamed upload and the downloads.
    path("books/upload", uploads.book_upload, name="book-upload"),
    path("books/<uuid:book_uuid>/files/<path:name>", downloads.book_file, name="book-file"),
    path("books/<uuid:book_uuid>/mp3.zip", downloads.book_mp3_zip, name="book-mp3-zip"),
    path("books/<uuid:book_uuid>/acx.zip", downloads.book_acx_zip, name="book-acx-zip"),
    # Local mode only: the links storage.links signs when there is no S3.
    path("files/upload/<str:token>", local_links.signed_upload, name="signed-upload"),
    # On S3 too: the API's link to a conversion's MP3 zip, which no bucket can presign.
    path("files/mp3-zip/<str:token>", downloads.signed_mp3_zip, name="signed-mp3-zip"),
    path("files/<str:token>", local_links.signed_download, name="signed-download"),
    # The voice catalogue and its previews (JSON and audio).
    path("voices/", voices.voices_list, name="voices"),
    path("voices/<str:voice_key>/preview", voices.voice_preview, name="voice-preview"),
]
