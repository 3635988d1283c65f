"""The books API, mounted under ``/api/v1/`` in ``ebookvoice.urls``."""

from __future__ import annotations

from django.urls import path

from . import billing, books, conversions, lexicon, listening, profile, uploads, voices

urlpatterns = [
    path("me/statistics", profile.MeStatisticsApi.as_view(), name="api_me_statistics"),
    path("billing", billing.BillingApi.as_view(), name="api_billing"),
    path("billing/checkout", billing.BillingCheckoutApi.as_view(), name="api_billing_checkout"),
    path("voices", voices.VoiceListApi.as_view(), name="api_voices"),
    path("voices/<str:voice_key>/preview", voices.TextPreviewApi.as_view(), name="api_voice_preview"),
    path("books", books.BookListCreateApi.as_view(), name="api_books"),
    path("books/<uuid:book_uuid>", books.BookDetailApi.as_view(), name="api_book"),
    path("books/<uuid:book_uuid>/quote", books.BookQuoteApi.as_view(), name="api_book_quote"),
    path("books/<uuid:book_uuid>/progress", listening.ProgressApi.as_view(), name="api_book_progress"),
    path(
        "books/<uuid:book_uuid>/bookmarks",
        listening.BookmarkListCreateApi.as_view(),
        name="api_book_bookmarks",
    ),
    path(
        "books/<uuid:book_uuid>/bookmarks/<uuid:bookmark_uuid>",
        listening.BookmarkDetailApi.as_view(),
        name="api_book_bookmark",
    ),
    path("lexicon", lexicon.LexiconListCreateApi.as_view(), name="api_lexicon"),
    path("lexicon/import", lexicon.LexiconImportApi.as_view(), name="api_lexicon_import"),
    path("lexicon/export.pls", lexicon.LexiconExportPlsApi.as_view(), name="api_lexicon_export_pls"),
    path("lexicon/export.csv", lexicon.LexiconExportCsvApi.as_view(), name="api_lexicon_export_csv"),
    path("lexicon/<uuid:entry_uuid>", lexicon.LexiconDetailApi.as_view(), name="api_lexicon_entry"),
    path("uploads", uploads.UploadStartApi.as_view(), name="api_upload_start"),
    path("uploads/<uuid:upload_id>/finish", uploads.UploadFinishApi.as_view(), name="api_upload_finish"),
    path("conversions", conversions.ConversionListCreateApi.as_view(), name="api_conversions"),
    path(
        "conversions/<uuid:conversion_uuid>",
        conversions.ConversionDetailApi.as_view(),
        name="api_conversion",
    ),
    path(
        "conversions/<uuid:conversion_uuid>/cancel",
        conversions.ConversionCancelApi.as_view(),
        name="api_conversion_cancel",
    ),
    path(
        "conversions/<uuid:conversion_uuid>/revisions",
        conversions.ConversionRevisionApi.as_view(),
        name="api_conversion_revisions",
    ),
    path(
        "conversions/<uuid:conversion_uuid>/revisions/quote",
        conversions.ConversionRevisionQuoteApi.as_view(),
        name="api_conversion_revision_quote",
    ),
    path(
        "conversions/<uuid:conversion_uuid>/downloads",
        conversions.ConversionDownloadsApi.as_view(),
        name="api_conversion_downloads",
    ),
]
