from __future__ import annotations

from django.urls import path

from .web import (
    billing,
    book_edit,
    book_page,
    convert,
    credits,
    downloads,
    feeds,
    lexicon,
    library,
    local_links,
    player,
    revisions,
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
    path("books/<uuid:book_uuid>/details", book_edit.book_details_edit, name="book-details"),
    path("books/<uuid:book_uuid>/cover", book_edit.book_cover_edit, name="book-cover"),
    path(
        "books/<uuid:book_uuid>/conversions/<uuid:conversion_uuid>/cancel",
        book_page.conversion_cancel,
        name="conversion-cancel",
    ),
    path("books/<uuid:book_uuid>/captions/<int:number>.vtt", player.book_captions, name="book-captions"),
    path("books/<uuid:book_uuid>/position", player.book_position, name="book-position"),
    path("books/<uuid:book_uuid>/bookmarks", player.book_bookmarks, name="book-bookmarks"),
    path(
        "books/<uuid:book_uuid>/bookmarks/<uuid:bookmark_uuid>/delete",
        player.book_bookmark_delete,
        name="book-bookmark-delete",
    ),
    path("credits/", credits.credits_page, name="credits"),
    path("feeds/", feeds.feeds_page, name="feeds"),
    path("feeds/new", feeds.feed_new, name="feed-new"),
    path("feeds/<uuid:feed_uuid>/renew", feeds.feed_renew, name="feed-renew"),
    path("feeds/<uuid:feed_uuid>/revoke", feeds.feed_revoke, name="feed-revoke"),
    path("feeds/<uuid:feed_uuid>/qr.svg", feeds.feed_qr, name="feed-qr"),
    # Podcast apps: the token in the path is the key (no session).
    path("podcast/<str:token>/feed.xml", feeds.podcast_feed, name="podcast-feed"),
    path("podcast/<str:token>/<uuid:conversion_uuid>/book.m4b", feeds.podcast_m4b, name="podcast-m4b"),
    path(
        "podcast/<str:token>/<uuid:conversion_uuid>/mp3/<int:number>.mp3",
        feeds.podcast_mp3,
        name="podcast-mp3",
    ),
    path(
        "podcast/<str:token>/<uuid:conversion_uuid>/captions/<int:number>.vtt",
        feeds.podcast_vtt,
        name="podcast-vtt",
    ),
    path(
        "podcast/<str:token>/<uuid:conversion_uuid>/transcript.vtt",
        feeds.podcast_book_transcript,
        name="podcast-book-transcript",
    ),
    path(
        "podcast/<str:token>/<uuid:conversion_uuid>/chapters.json",
        feeds.podcast_chapters,
        name="podcast-chapters",
    ),
    path("podcast/<str:token>/covers/<uuid:book_uuid>", feeds.podcast_cover, name="podcast-cover"),
    # Buying credits and premium: to Stripe Checkout and back (billing's webhook is in billing.urls).
    path("billing/checkout", billing.billing_checkout, name="billing-checkout"),
    path("billing/return", billing.billing_return, name="billing-return"),
    path(
        "billing/checkout/<str:session_id>/status",
        billing.billing_checkout_status,
        name="billing-checkout-status",
    ),
    path("billing/portal", billing.billing_portal, name="billing-portal"),
    path("billing/payments/<uuid:payment_uuid>/receipt", billing.billing_receipt, name="billing-receipt"),
    path("books/<uuid:book_uuid>/lexicon", lexicon.book_lexicon_page, name="book-lexicon"),
    path("books/<uuid:book_uuid>/lexicon/listen", lexicon.book_lexicon_listen, name="book-lexicon-listen"),
    path("books/<uuid:book_uuid>/revise", lexicon.book_revise, name="book-revise"),
    path("books/<uuid:book_uuid>/revisions", revisions.book_revisions_page, name="book-revisions"),
    path("lexicon/", lexicon.lexicon_page, name="lexicon"),
    path("lexicon/export.pls", lexicon.lexicon_download, {"kind": "pls"}, name="lexicon-export-pls"),
    path("lexicon/export.csv", lexicon.lexicon_download, {"kind": "csv"}, name="lexicon-export-csv"),
    # Files: the streamed upload and the downloads.
    path("books/upload", uploads.book_upload, name="book-upload"),
    path("books/<uuid:book_uuid>/files/<path:name>", downloads.book_file, name="book-file"),
    path("books/<uuid:book_uuid>/mp3.zip", downloads.book_mp3_zip, name="book-mp3-zip"),
    path("books/<uuid:book_uuid>/acx.zip", downloads.book_acx_zip, name="book-acx-zip"),
    path("books/<uuid:book_uuid>/read-along.epub", downloads.book_readalong_epub, name="book-readalong-epub"),
    # Local mode only: the links storage.links signs when there is no S3.
    path("files/upload/<str:token>", local_links.signed_upload, name="signed-upload"),
    # On S3 too: the API's link to a conversion's MP3 zip, which no bucket can presign.
    path("files/mp3-zip/<str:token>", downloads.signed_mp3_zip, name="signed-mp3-zip"),
    path("files/<str:token>", local_links.signed_download, name="signed-download"),
    # The voice catalogue and its previews (JSON and audio).
    path("voices/", voices.voices_list, name="voices"),
    path("voices/<str:voice_key>/preview", voices.voice_preview, name="voice-preview"),
]
