from __future__ import annotations

import uuid

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone

# MARC relator codes that EPUBs give their creators, as a page says them.
CONTRIBUTOR_ROLES = {
    "edt": "edited by",
    "trl": "translated by",
    "ill": "illustrated by",
    "aui": "introduction by",
    "aft": "afterword by",
    "ann": "annotated by",
    "com": "compiled by",
    "nrt": "narrated by",
    "pht": "photographs by",
    "art": "art by",
    "cov": "cover by",
    "bkd": "designed by",
    "mrk": "markup by",
    "trc": "transcribed by",
}


class Book(models.Model):
    """An uploaded ebook and what ingestion read from it.

    ``uuid`` is the id seen outside the database: in URLs and storage keys.
    """

    class Status(models.TextChoices):
        UPLOADED = "uploaded", "Uploaded"
        INGESTING = "ingesting", "Reading the book"
        READY = "ready", "Ready"
        FAILED = "failed", "Could not be read"

    class CoverOrigin(models.TextChoices):
        BOOK = "book", "From the book"
        GENERATED = "generated", "Made from the title"
        UPLOADED = "uploaded", "Uploaded by the reader"

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
    cover_origin = models.CharField(
        max_length=10,
        choices=CoverOrigin.choices,
        blank=True,
        help_text="Where the cover came from; one made from the title is made again when it changes.",
    )
    # Creators other than authors, as the book names them: [{"name": …, "role": "edt"}, …]
    contributors = models.JSONField(default=list, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.TextField(blank=True)
    ingest_attempts = models.PositiveSmallIntegerField(default=0)
    # Until when the run reading the book holds it: a second delivery of the same task
    # (a retry, a redelivery) must not read it beside the first and overwrite its files.
    ingest_lease_until = models.DateTimeField(null=True, blank=True)

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

    @property
    def contributors_text(self) -> str:
        """Creators who are not authors, as a page says them: "edited by Ed Editor; translated by …"."""
        lines = []
        for contributor in self.contributors or []:
            role = str(contributor.get("role", ""))
            lines.append(f"{CONTRIBUTOR_ROLES.get(role, 'with')} {contributor.get('name', '')}")
        return "; ".join(lines)

    @property
    def authors_text(self) -> str:
        """The authors as one line, as pages and audio tags show them; empty when none are known."""
        return ", ".join(str(author) for author in self.authors or [])


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
    # A chapter too long to hear at one sitting, and a book without chapters, come as
    # consecutive sections of about 30 minutes; the picker shows them under their chapter.
    group = models.PositiveIntegerField(
        default=0, help_text="The chapter this row belongs to, counted from 0 in reading order."
    )
    section = models.PositiveIntegerField(
        default=0, help_text="0 for a whole chapter; 1, 2, … for the sections of a divided one."
    )
    group_title = models.CharField(
        max_length=500,
        blank=True,
        help_text="The divided chapter's title (the book's, for a book without any).",
    )

    class Meta:
        ordering = ("book", "index")
        constraints = [
            models.UniqueConstraint(fields=("book", "index"), name="audiobooks_chapter_unique_index"),
            models.UniqueConstraint(
                fields=("book", "group", "section"), name="audiobooks_chapter_unique_section"
            ),
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
        SEGMENT = "segment", "Chapter AAC segment"
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


class Conversion(models.Model):
    """One request to turn chosen chapters of a book into audio, and where it stands.

    queued → synthesizing → assembling → completed, or it ends as failed or
    cancelled. The row is the truth: a Celery message only nudges a worker.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SYNTHESIZING = "synthesizing", "Synthesizing"
        ASSEMBLING = "assembling", "Assembling"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    # Not yet finished: their Parts are still needed (see selectors.part_keys_in_use).
    ACTIVE = (Status.QUEUED, Status.SYNTHESIZING, Status.ASSEMBLING)
    CANCELLABLE = ACTIVE
    FINISHED = (Status.COMPLETED, Status.FAILED, Status.CANCELLED)

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversions")
    book = models.ForeignKey(Book, on_delete=models.CASCADE, related_name="conversions")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    voice_key = models.CharField(max_length=200, help_text="engine:voice, as in the tts_engine registry.")
    speed = models.FloatField()
    chapters = models.ManyToManyField(Chapter, through="ConversionChapter", related_name="conversions")
    characters = models.PositiveIntegerField(
        help_text="Characters of text in all Parts: what was charged, less any reused_characters."
    )
    revision_of = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="revisions",
        help_text="The audiobook this revises: its Parts that sound the same are reused, not charged.",
    )
    reused_characters = models.PositiveIntegerField(
        default=0, help_text="Of the characters, those in Parts reused from the revised audiobook: free."
    )
    charge_hundredths = models.PositiveIntegerField(help_text="What was charged, in hundredths of a credit.")
    changes = models.JSONField(
        default=list, blank=True, help_text="What this revision changed, a line each, for the book's history."
    )
    idempotency_key = models.CharField(
        max_length=255, blank=True, help_text="The client's Idempotency-Key, unique per owner."
    )
    operator_job = models.BooleanField(
        default=False, help_text="Run by an operator (manage.py convert without --user): never charged."
    )
    cancel_requested = models.BooleanField(default=False)
    error_message = models.TextField(blank=True)
    duration_ms = models.PositiveBigIntegerField(null=True, blank=True, help_text="Of the finished M4B.")
    assembly_attempts = models.PositiveSmallIntegerField(default=0)
    assembly_sent_at = models.DateTimeField(
        null=True, blank=True, help_text="When the M4B assembly task was last sent to the broker."
    )
    parts_sent_at = models.DateTimeField(
        null=True, blank=True, help_text="When the dispatcher last sent one of its Parts to the broker."
    )

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = [
            models.Index(fields=("owner", "-created_at")),
            models.Index(fields=("status", "created_at")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=("owner", "idempotency_key"),
                condition=~Q(idempotency_key=""),
                name="audiobooks_conversion_unique_idempotency_key",
            ),
            models.CheckConstraint(
                condition=Q(speed__gte=0.5, speed__lte=2.0), name="audiobooks_conversion_speed_range"
            ),
            models.CheckConstraint(condition=Q(characters__gt=0), name="audiobooks_conversion_has_text"),
            models.CheckConstraint(
                condition=~Q(status="failed") | ~Q(error_message=""),
                name="audiobooks_conversion_failed_has_message",
            ),
            models.CheckConstraint(
                condition=Q(status__in=("completed", "failed", "cancelled"), finished_at__isnull=False)
                | (~Q(status__in=("completed", "failed", "cancelled")) & Q(finished_at__isnull=True)),
                name="audiobooks_conversion_finished_iff_final",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=("synthesizing", "assembling", "completed"))
                | Q(started_at__isnull=False),
                name="audiobooks_conversion_started_when_running",
            ),
            models.CheckConstraint(
                condition=~Q(status="cancelled") | Q(cancel_requested=True),
                name="audiobooks_conversion_cancelled_was_requested",
            ),
            models.CheckConstraint(
                condition=~Q(operator_job=True) | Q(charge_hundredths=0),
                name="audiobooks_conversion_operator_jobs_are_free",
            ),
            models.CheckConstraint(
                condition=~Q(status="completed") | Q(duration_ms__isnull=False),
                name="audiobooks_conversion_completed_has_duration",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.book} ({self.get_status_display()})"


class ConversionChapter(models.Model):
    """A chapter chosen for a conversion, with its place in the finished book (from 0).

    rendering → mastering (its last Part is done; the AAC segment, MP3 and
    captions are being made) → ready (playable). ``gain_db`` is the mastering
    gain measured once; the AAC segment at ``segment_key`` (``samples`` of
    mastered audio) is what the M4B is joined from, by stream copy.
    ``sources_digest`` names the chapter's Parts and mastering version: a later
    conversion of the book with the same digest reuses the segment, MP3 and captions.
    """

    class Status(models.TextChoices):
        RENDERING = "rendering", "Rendering"
        MASTERING = "mastering", "Mastering"
        READY = "ready", "Ready"

    conversion = models.ForeignKey(Conversion, on_delete=models.CASCADE, related_name="selections")
    chapter = models.ForeignKey(Chapter, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RENDERING)
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(
        null=True, blank=True, help_text="When the mastering task was last sent to the broker."
    )
    gain_db = models.FloatField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True, help_text="Of the mastered chapter.")
    samples = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Of the mastered chapter, whole AAC frames: its length in the M4B."
    )
    sources_digest = models.CharField(
        max_length=64, blank=True, help_text="sha256 of the chapter's Part keys and the mastering version."
    )
    segment_key = models.CharField(max_length=255, blank=True, help_text="The chapter's AAC segment.")
    finished_at = models.DateTimeField(null=True, blank=True)
    text = models.TextField(
        blank=True,
        help_text="The chapter's text as the reader edited it for this audiobook; empty: the book's.",
    )
    speed = models.FloatField(
        null=True,
        blank=True,
        help_text="This chapter's own speed, when the reader chose one; else the conversion's.",
    )

    class Meta:
        ordering = ("conversion", "position")
        indexes = [
            models.Index(fields=("status", "sent_at")),
            models.Index(fields=("sources_digest",), name="audiobooks_convchapter_sources"),
        ]
        constraints = [
            models.UniqueConstraint(fields=("conversion", "chapter"), name="audiobooks_convchapter_unique"),
            models.UniqueConstraint(
                fields=("conversion", "position"), name="audiobooks_convchapter_unique_position"
            ),
            models.CheckConstraint(
                condition=~Q(status="ready")
                | Q(gain_db__isnull=False, duration_ms__isnull=False, finished_at__isnull=False),
                name="audiobooks_convchapter_ready_has_audio",
            ),
            models.CheckConstraint(
                condition=Q(speed__isnull=True) | Q(speed__gte=0.5, speed__lte=2.0),
                name="audiobooks_convchapter_speed_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.position + 1}: chapter {self.chapter_id} of conversion {self.conversion_id}"

    @property
    def number(self) -> int:
        """The chapter's number in the finished book, from 1: mp3/NN.mp3, captions/NN.vtt."""
        return self.position + 1

    @property
    def text_edited(self) -> bool:
        return bool(self.text)


class Part(models.Model):
    """A slice of a chapter (≤ about 5,000 characters, cut at sentences): the unit of synthesis.

    ``index`` orders all Parts of a conversion in reading order;
    ``chapter_part_index`` orders them within their chapter. The first Part of
    a chapter speaks its title first (``speaks_title``). ``cache_key`` is the
    render cache's digest (``tts_engine.speech.render_key``: voice incl.
    engine, speed, text, title, pauses, language, paragraph end,
    ``NORMALISER_VERSION`` and the ``lexicon`` entries that touch the text);
    the audio is stored under
    ``storage_keys.part_key(digest=cache_key)``.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        # Closed without being rendered: its conversion was cancelled, or failed on another Part.
        CANCELLED = "cancelled", "Cancelled"
        SKIPPED = "skipped", "Skipped"

    OPEN = (Status.PENDING, Status.RUNNING)

    conversion = models.ForeignKey(Conversion, on_delete=models.CASCADE, related_name="parts")
    chapter = models.ForeignKey(Chapter, on_delete=models.CASCADE, related_name="parts")
    index = models.PositiveIntegerField()
    chapter_part_index = models.PositiveIntegerField()
    text = models.TextField()
    characters = models.PositiveIntegerField()
    speaks_title = models.BooleanField(default=False)
    ends_paragraph = models.BooleanField(default=True)
    cache_key = models.CharField(max_length=64)
    reused = models.BooleanField(
        default=False,
        help_text="The same audio as a Part of the revised audiobook: not charged, rendered free if gone.",
    )
    lexicon = models.JSONField(
        default=list,
        blank=True,
        help_text="The lexicon entries that touch its text, as rendered (tts_engine.lexicon.Applied).",
    )
    speed = models.FloatField(
        null=True, blank=True, help_text="Said at its chapter's own speed; empty: at the conversion's."
    )

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=255, blank=True, help_text="Who claimed it: host and process.")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True, help_text="Last sent to the broker.")
    task_id = models.CharField(max_length=64, blank=True, help_text="Of the last message sent: to revoke it.")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    from_cache = models.BooleanField(
        default=False, help_text="Done without rendering: the same audio was in the render cache."
    )
    sentences = models.JSONField(
        default=list, blank=True, help_text="Sentence timings: start_ms, end_ms, text, is_title."
    )
    error = models.TextField(blank=True)

    class Meta:
        ordering = ("conversion", "index")
        indexes = [
            models.Index(fields=("status", "conversion", "index")),
            models.Index(fields=("conversion", "status")),
            models.Index(fields=("cache_key",)),
            models.Index(
                fields=("heartbeat_at",), condition=Q(status="running"), name="audiobooks_part_running"
            ),
            # The dispatcher's two questions, whose cost must not grow with the Parts that wait:
            # which Parts are in flight (sent, not finished), and each conversion's next unsent one.
            models.Index(
                fields=("conversion",),
                condition=Q(status__in=("pending", "running"), dispatched_at__isnull=False),
                name="audiobooks_part_in_flight",
            ),
            models.Index(
                fields=("conversion", "index"),
                condition=Q(status="pending", dispatched_at__isnull=True),
                name="audiobooks_part_waiting",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=("conversion", "index"), name="audiobooks_part_unique_index"),
            models.UniqueConstraint(
                fields=("conversion", "chapter", "chapter_part_index"),
                name="audiobooks_part_unique_chapter_index",
            ),
            models.CheckConstraint(condition=Q(characters__gt=0), name="audiobooks_part_has_text"),
            models.CheckConstraint(
                condition=~Q(status="running") | Q(heartbeat_at__isnull=False),
                name="audiobooks_part_running_has_heartbeat",
            ),
            models.CheckConstraint(
                condition=~Q(status="done") | Q(duration_ms__isnull=False, finished_at__isnull=False),
                name="audiobooks_part_done_has_duration",
            ),
            models.CheckConstraint(
                condition=~Q(status="failed") | ~Q(error=""), name="audiobooks_part_failed_has_error"
            ),
        ]

    def __str__(self) -> str:
        return f"Part {self.index} of {self.conversion_id} ({self.status})"


# --- Listening and API idempotency (issue 10) ------------------------------------------
# Written through ``audiobooks.listening`` and ``audiobooks.idempotency`` only.


class ListeningProgress(models.Model):
    """Where the book's owner stopped listening, so a phone and the web player resume at one place.

    ``chapter`` is the chapter's number in the finished book, from 1 (as in
    ``mp3/NN.mp3``), and ``position_ms`` the offset into it. ``recorded_at``
    is when the listener was there: a device that syncs late does not move
    the place back past a newer one.
    """

    book = models.OneToOneField(Book, on_delete=models.CASCADE, related_name="listening_progress")
    chapter = models.PositiveIntegerField()
    position_ms = models.PositiveBigIntegerField()
    recorded_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "listening progress"
        constraints = [
            models.CheckConstraint(condition=Q(chapter__gte=1), name="audiobooks_progress_chapter_from_one"),
        ]

    def __str__(self) -> str:
        return f"{self.book}: chapter {self.chapter} at {self.position_ms} ms"


class Bookmark(models.Model):
    """A place in a book its owner wants to find again, with an optional note."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    book = models.ForeignKey(Book, on_delete=models.CASCADE, related_name="bookmarks")
    chapter = models.PositiveIntegerField(help_text="The chapter's number in the finished book, from 1.")
    position_ms = models.PositiveBigIntegerField()
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("book", "chapter", "position_ms", "id")
        indexes = [models.Index(fields=("book", "chapter", "position_ms"))]
        constraints = [
            models.CheckConstraint(condition=Q(chapter__gte=1), name="audiobooks_bookmark_chapter_from_one"),
        ]

    def __str__(self) -> str:
        return f"{self.book}: chapter {self.chapter} at {self.position_ms} ms"


class IdempotencyRecord(models.Model):
    """One ``Idempotency-Key`` a user sent to the API, and the response it got.

    The IETF draft's bookkeeping: the request's fingerprint (a different body
    under the same key is refused), whether the first request is still being
    served (a duplicate then gets 409), and the response to replay. Keys are
    unique per user, so two people can never collide.
    """

    class State(models.TextChoices):
        IN_FLIGHT = "in_flight", "In flight"
        COMPLETED = "completed", "Completed"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="idempotency_records"
    )
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="sha256 of method, path and canonical body.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.IN_FLIGHT)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    locked_at = models.DateTimeField(default=timezone.now, help_text="When the serving request took it.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("user", "key"), name="audiobooks_idempotency_unique_key"),
            models.CheckConstraint(
                condition=~Q(state="completed") | Q(response_status__isnull=False),
                name="audiobooks_idempotency_completed_has_response",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.state})"


class PodcastFeed(models.Model):
    """A private podcast feed: all of the owner's finished audiobooks, or one book's chapters.

    Podcast apps cannot sign in, so the feed's URL carries a long random
    token. Only its SHA-256 is looked up; the token itself is kept encrypted
    (``accounts.crypto``) so the feeds page can show the URL and its QR code
    again. A new token replaces the old one, which then finds nothing.
    Written through ``audiobooks.feeds`` only.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="podcast_feeds"
    )
    book = models.ForeignKey(
        Book, on_delete=models.CASCADE, null=True, blank=True, related_name="podcast_feeds",
        help_text="Empty: the owner's feed of every finished audiobook. Set: this book's chapters.",
    )  # fmt: skip
    token_sha256 = models.CharField(max_length=64, unique=True)
    token_encrypted = models.TextField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    token_issued_at = models.DateTimeField(default=timezone.now)
    last_fetched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("owner",), condition=Q(book__isnull=True), name="audiobooks_feed_one_per_owner"
            ),
            models.UniqueConstraint(fields=("owner", "book"), name="audiobooks_feed_one_per_book"),
        ]

    def __str__(self) -> str:
        return f"Feed of {self.book}" if self.book_id else f"Feed of {self.owner}"


class LexiconEntry(models.Model):
    """How to say a word or phrase: a reader's, for all their books or narrowed to one.

    A respelling ("Kwee-kweg") or phonemes (IPA), or both: a voice that takes
    phonemes gets those, any other the respelling (``tts_engine.lexicon``).
    ``text`` is matched on a Part's raw text; a book's own entry wins over
    the reader's entry for the same word.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lexicon")
    book = models.ForeignKey(Book, on_delete=models.CASCADE, null=True, blank=True, related_name="lexicon")
    text = models.CharField(max_length=100)
    respelling = models.CharField(max_length=200, blank=True)
    phonemes = models.CharField(max_length=100, blank=True)
    case_sensitive = models.BooleanField(default=False)
    whole_word = models.BooleanField(default=True)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("text", "id")
        indexes = [models.Index(fields=("owner", "book"))]
        constraints = [
            models.UniqueConstraint(
                fields=("owner", "book", "text", "case_sensitive"),
                nulls_distinct=False,
                name="audiobooks_lexicon_unique_word",
            ),
            models.CheckConstraint(condition=~Q(text=""), name="audiobooks_lexicon_has_text"),
            models.CheckConstraint(
                condition=~Q(respelling="") | ~Q(phonemes=""), name="audiobooks_lexicon_says_something"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.text} → {self.phonemes or self.respelling}"
