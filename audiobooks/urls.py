from __future__ import annotations

from django.urls import path

from . import views, views_books, views_convert, views_credits, views_exports, views_player, views_voices

app_name = "audiobooks"

urlpatterns = [
    # The reader's pages.
    path("books/", views_books.library, name="library"),
    path("books/new", views_books.book_new, name="book-new"),
    path("books/<uuid:book_uuid>/", views_books.book_detail, name="book-detail"),
    path("books/<uuid:book_uuid>/convert", views_convert.book_convert, name="book-convert"),
    path("books/<uuid:book_uuid>/quote", views_convert.book_quote, name="book-quote"),
    path("books/<uuid:book_uuid>/status", views_books.book_status, name="book-status"),
    path("books/<uuid:book_uuid>/delete", views_books.book_delete, name="book-delete"),
    path(
        "books/<uuid:book_uuid>/conversions/<uuid:conversion_uuid>/cancel",
        views_books.conversion_cancel,
        name="conversion-cancel",
    ),
    path(
        "books/<uuid:book_uuid>/captions/<int:number>.vtt", views_player.book_captions, name="book-captions"
    ),
    path("books/<uuid:book_uuid>/position", views_player.book_position, name="book-position"),
    path("credits/", views_credits.credits_page, name="credits"),
    # Files: the streamed upload and the downloads.
    path("books/upload", views.book_upload, name="book-upload"),
    path("books/<uuid:book_uuid>/files/<path:name>", views.book_file, name="book-file"),
    path("books/<uuid:book_uuid>/mp3.zip", views.book_mp3_zip, name="book-mp3-zip"),
    path("books/<uuid:book_uuid>/acx.zip", views_exports.book_acx_zip, name="book-acx-zip"),
    # Local mode only: the links storage.links signs when there is no S3.
    path("files/upload/<str:token>", views.signed_upload, name="signed-upload"),
    path("files/<str:token>", views.signed_download, name="signed-download"),
    # The voice catalogue and its previews (JSON and audio).
    path("voices/", views_voices.voices_list, name="voices"),
    path("voices/<str:voice_key>/preview", views_voices.voice_preview, name="voice-preview"),
]
