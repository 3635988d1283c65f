from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


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
