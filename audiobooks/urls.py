from __future__ import annotations

from django.urls import path

from . import views, views_exports, views_voices

app_name = "audiobooks"

urlpatterns = [
    path("books/upload", views.book_upload, name="book-upload"),
    path("books/<uuid:book_uuid>/files/<path:name>", views.book_file, name="book-file"),
    path("books/<uuid:book_uuid>/mp3.zip", views.book_mp3_zip, name="book-mp3-zip"),
    path("books/<uuid:book_uuid>/acx.zip", views_exports.book_acx_zip, name="book-acx-zip"),
    # Local mode only: the links storage.links signs when there is no S3.
    path("files/upload/<str:token>", views.signed_upload, name="signed-upload"),
    path("files/<str:token>", views.signed_download, name="signed-download"),
    path("voices/", views_voices.voices_list, name="voices"),
    path("voices/<str:voice_key>/preview", views_voices.voice_preview, name="voice-preview"),
]
