from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Book(models.Model):
    """An uploaded ebook and what ingestion read from it.

    ``uuid`` is the id seen outside the database: in URLs and storage keys.
    """

    class Status(models.TextChoices):
        UPLOADED = "uploaded", "Uploaded"
        INGESTING = "ingesting", "Reading the book"
        READY = "ready", "Ready"
        FAILED = "failed", "Could not be read"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="books")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UPLOADED)

    original_key = models.CharField(max_length=255, help_text="Storage key of the uploaded file.")
    original_filename = models.CharField(
        max_length=255, help_text="The name the user's file had; shown, never used as a key."
    )
    original_size = models.PositiveBigIntegerField()

    format = models.CharField(max_length=8, blank=True)
    title = models.CharField(max_length=500, blank=True)
    authors = models.JSONField(default=list, blank=True)
    language = models.CharField(max_length=35, blank=True)
    cover_key = models.CharField(max_length=255, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.TextField(blank=True)
    ingest_attempts = models.PositiveSmallIntegerField(default=0)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    ingested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = [models.Index(fields=("owner", "-created_at"))]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="failed") | ~Q(error_message=""),
                name="audiobooks_book_failed_has_message",
            ),
        ]

    def __str__(self) -> str:
        return self.title or self.original_filename

    @property
    def display_title(self) -> str:
        return self.title or self.original_filename


class Chapter(models.Model):
    """One chapter as the reader chooses it, with the text that will be spoken."""

    book = models.ForeignKey(Book, on_delete=models.CASCADE, related_name="chapters")
    index = models.PositiveIntegerField()
    title = models.CharField(max_length=500)
    text = models.TextField()
    words = models.PositiveIntegerField()
    chars = models.PositiveIntegerField()
    included = models.BooleanField(
        default=True, help_text="Selected by default; front and back matter start deselected."
    )
    exclusion_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ("book", "index")
        constraints = [
            models.UniqueConstraint(fields=("book", "index"), name="audiobooks_chapter_unique_index"),
        ]

    def __str__(self) -> str:
        return f"{self.index + 1}. {self.title}"


class StoredObject(models.Model):
    """One object in storage, recorded so quotas are exact and storage can be reconciled.

    Every object the app writes under ``users/``, ``parts/`` or ``voices/`` has a row: the
    row is created after the object is written and deleted before the object
    is, so ``storage_used`` (the sum of a user's rows) never counts a file the
    user cannot have, and ``reconcile_storage`` finds any object left behind.

    A row with ``expires_at`` is a direct upload that was started and not yet
    finished: its declared size is reserved against the quota, and
    ``purge_expired`` deletes it (and whatever was PUT) once it expires.
    """

    class Kind(models.TextChoices):
        ORIGINAL = "original", "Uploaded original"
        COVER = "cover", "Cover"
        M4B = "m4b", "Audiobook (M4B)"
        MP3 = "mp3", "Chapter MP3"
        VTT = "vtt", "Chapter captions"
        PART = "part", "Cached Part"
        VOICE_PREVIEW = "preview", "Voice preview"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    key = models.CharField(max_length=255, unique=True)
    # Null only for cached Parts and voice previews: both are shared and count against no one.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="stored_objects",
    )
    book = models.ForeignKey(
        Book, on_delete=models.CASCADE, null=True, blank=True, related_name="stored_objects"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    size = models.PositiveBigIntegerField(help_text="Bytes; declared size while an upload is pending.")
    content_type = models.CharField(max_length=100)
    filename = models.CharField(
        max_length=255, blank=True, help_text="The name a download is given; never part of the key."
    )
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Set while a direct upload is pending: deleted after this."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        indexes = [
            models.Index(fields=("owner", "kind")),
            models.Index(fields=("kind", "created_at")),
            models.Index(
                fields=("expires_at",), condition=Q(expires_at__isnull=False), name="audiobooks_so_pending"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=("part", "preview"), owner__isnull=True, book__isnull=True)
                | (~Q(kind__in=("part", "preview")) & Q(owner__isnull=False)),
                name="audiobooks_storedobject_shared_iff_ownerless",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__isnull=True) | Q(kind="original", book__isnull=True),
                name="audiobooks_storedobject_only_pending_uploads_expire",
            ),
        ]

    def __str__(self) -> str:
        return self.key

    @property
    def pending(self) -> bool:
        return self.expires_at is not None
