"""The admin of books and conversions: read-only rows, and the staff actions that go through the pipeline.

Conversions, their chapters and Parts change only through services and the
pipeline: staff look, and act through the actions (retry, cancel), which
call ``pipeline.outcomes``. Deleting a book goes through ``services``, so
its files go too.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, Max, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from accounts.models import User
from audiobooks import prices
from audiobooks.models import Book, Chapter, Conversion, ConversionChapter, Part, PodcastFeed, StoredObject
from audiobooks.pipeline.outcomes import (
    ConversionNotRetryable,
    conversion_cancel_by_staff,
    conversion_retry_by_staff,
)
from audiobooks.pipeline.progress import conversion_progress
from audiobooks.services import book_delete_in_admin
from ebookvoice.admin_fallback import ReadOnlyAdmin


class ChapterInline(admin.TabularInline):
    model = Chapter
    fields = ("index", "title", "group", "section", "words", "chars", "included", "exclusion_reason")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[Chapter]:
        # A long book's chapters hold megabytes of text, and this list shows none of it.
        return super().get_queryset(request).defer("text")


@admin.register(Book)
class BookAdmin(admin.ModelAdmin):
    list_display = ("display_title", "owner", "status", "format", "language", "created_at")
    list_filter = ("status", "format", "language")
    search_fields = ("title", "original_filename", "owner__email", "uuid")
    readonly_fields = (
        "uuid", "owner", "original_key", "original_filename", "original_size", "format", "title",
        "authors", "language", "cover_key", "warnings", "error_code", "error_message",
        "ingest_attempts", "created_at", "updated_at", "ingested_at",
    )  # fmt: skip
    list_select_related = ("owner",)
    inlines = (ChapterInline,)

    # Deleting here goes through the service, so the book's files go too;
    # their rows and its conversions' (read-only in the admin) are the service's to delete.
    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        for model in (StoredObject, Conversion, ConversionChapter, Part):
            perms_needed.discard(model._meta.verbose_name)
        return deleted, counts, perms_needed, protected

    def delete_model(self, request: HttpRequest, obj: Book) -> None:
        book_delete_in_admin(book=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Book]) -> None:
        for book in queryset.select_related("owner"):
            book_delete_in_admin(book=book)


@admin.register(Chapter)
class ChapterAdmin(admin.ModelAdmin):
    list_display = ("title", "book", "index", "group", "section", "words", "included")
    list_filter = ("included",)
    search_fields = ("title", "book__title")
    list_select_related = ("book",)
    readonly_fields = ("book", "index", "group", "section", "group_title", "words", "chars")


@admin.register(StoredObject)
class StoredObjectAdmin(ReadOnlyAdmin):
    """Read-only: rows change only with their objects (services, purge_expired, reconcile_storage)."""

    list_display = ("key", "kind", "owner", "size", "content_type", "expires_at", "created_at")
    list_filter = ("kind",)
    search_fields = ("key", "owner__email", "book__uuid", "uuid")
    list_select_related = ("owner",)
    readonly_fields = (
        "uuid", "key", "owner", "book", "kind", "size", "content_type", "filename",
        "expires_at", "created_at",
    )  # fmt: skip


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _render_seconds(part: Part) -> str:
    if part.started_at and part.finished_at:
        return f"{(part.finished_at - part.started_at).total_seconds():.1f}"
    return "–"


class PartInline(admin.TabularInline):
    """Read-only: Parts change only through the pipeline's claims, the reaper and staff retries."""

    model = Part
    fields = (
        "index", "chapter", "chapter_part_index", "characters", "status", "attempts", "worker",
        "heartbeat_at", "dispatched_at", "render_seconds", "duration_ms", "error",
    )  # fmt: skip
    readonly_fields = fields
    ordering = ("index",)
    extra = 0
    can_delete = False

    @admin.display(description="render s")
    def render_seconds(self, part: Part) -> str:
        return _render_seconds(part)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Part]:
        return super().get_queryset(request).select_related("chapter").defer("text", "sentences")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class GainColumn:
    @admin.display(description="gain", ordering="gain_db")
    def gain(self, selection: ConversionChapter) -> str:
        """The mastering gain in decibels to one decimal: "+6.7 dB", not 6.699999999999999."""
        return "" if selection.gain_db is None else f"{selection.gain_db:+.1f} dB"


class ConversionChapterInline(GainColumn, admin.TabularInline):
    model = ConversionChapter
    fields = ("number", "chapter", "status", "attempts", "sent_at", "duration_ms", "gain", "finished_at")
    readonly_fields = fields
    ordering = ("position",)
    extra = 0
    can_delete = False
    verbose_name_plural = "chapters"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Conversion)
class ConversionAdmin(ReadOnlyAdmin):
    """Read-only fields; staff retry or cancel through the actions, which go through the services."""

    list_display = (
        "uuid", "book", "owner", "status", "voice_key", "parts_done", "parts_failed_count", "attempts_max",
        "charge", "created_at", "finished_at", "error_short",
    )  # fmt: skip
    list_filter = ("status", "voice_key", "operator_job", "cancel_requested", "created_at")
    search_fields = ("uuid", "owner__email", "book__title", "book__uuid")
    list_select_related = ("owner", "book")
    date_hierarchy = "created_at"
    readonly_fields = (
        "uuid", "owner", "book", "status", "progress", "voice_key", "speed", "characters", "charge",
        "operator_job", "idempotency_key", "cancel_requested", "error_message", "duration_ms",
        "assembly_attempts", "assembly_sent_at", "created_at", "started_at", "finished_at", "ledger",
        "revision_of", "changes_made",
    )  # fmt: skip
    exclude = ("chapters",)
    inlines = (ConversionChapterInline, PartInline)
    actions = ("retry_failed_parts", "cancel_conversions")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Conversion]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                parts_total=Count("parts"),
                parts_done_n=Count("parts", filter=Q(parts__status=Part.Status.DONE)),
                parts_failed_n=Count("parts", filter=Q(parts__status=Part.Status.FAILED)),
                attempts_max_n=Max("parts__attempts"),
            )
        )

    @admin.display(description="what this revision changed")
    def changes_made(self, conversion: Conversion) -> str:
        return "; ".join(conversion.changes) or "-"

    @admin.display(description="parts done", ordering="parts_done_n")
    def parts_done(self, conversion: Any) -> str:
        return f"{conversion.parts_done_n}/{conversion.parts_total}"

    @admin.display(description="failed", ordering="parts_failed_n")
    def parts_failed_count(self, conversion: Any) -> int:
        return int(conversion.parts_failed_n)

    @admin.display(description="most attempts", ordering="attempts_max_n")
    def attempts_max(self, conversion: Any) -> int:
        return int(conversion.attempts_max_n or 0)

    @admin.display(description="charge", ordering="charge_hundredths")
    def charge(self, conversion: Conversion) -> str:
        return prices.amount(conversion.charge_hundredths, voice_key=conversion.voice_key).with_audio

    @admin.display(description="error")
    def error_short(self, conversion: Conversion) -> str:
        return _short(conversion.error_message)

    @admin.display(description="progress")
    def progress(self, conversion: Conversion) -> str:
        p = conversion_progress(conversion)
        return (
            f"{p.percent}%: {p.parts_done} of {p.parts_total} Parts, "
            f"{p.chapters_ready} of {p.chapters_total} chapters ready"
        )

    @admin.display(description="ledger")
    def ledger(self, conversion: Conversion) -> str:
        url = reverse("admin:credits_creditentry_changelist") + f"?q={conversion.uuid}"
        return format_html('<a href="{}">Charge and refund of this conversion</a>', url)

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("audiobooks.change_conversion")

    has_cancel_permission = has_retry_permission

    @admin.action(description="Retry the failed Parts of the selected conversions", permissions=["retry"])
    def retry_failed_parts(self, request: HttpRequest, queryset: QuerySet[Conversion]) -> None:
        assert isinstance(request.user, User)
        retried, refused = [], []
        for conversion in queryset.order_by("created_at"):
            try:
                reopened = conversion_retry_by_staff(conversion_id=conversion.pk, actor=request.user)
            except ConversionNotRetryable as error:
                refused.append(f"{conversion.uuid}: {error.message}")
                continue
            retried.append(f"{conversion.uuid} ({reopened} Parts)")
        if retried:
            self.message_user(request, "Retrying " + ", ".join(retried) + ".", messages.SUCCESS)
        for line in refused:
            self.message_user(request, f"Not retried: {line}", messages.WARNING)

    @admin.action(description="Cancel the selected conversions and refund what was not rendered",
                  permissions=["cancel"])  # fmt: skip
    def cancel_conversions(self, request: HttpRequest, queryset: QuerySet[Conversion]) -> None:
        assert isinstance(request.user, User)
        cancelled, finished = [], []
        for conversion in queryset.order_by("created_at"):
            if conversion_cancel_by_staff(conversion_id=conversion.pk, actor=request.user):
                cancelled.append(str(conversion.uuid))
            else:
                finished.append(f"{conversion.uuid} ({conversion.get_status_display().lower()})")
        if cancelled:
            self.message_user(
                request, "Cancelled and refunded: " + ", ".join(cancelled) + ".", messages.SUCCESS
            )
        if finished:
            self.message_user(
                request, "Already finished, nothing to cancel: " + ", ".join(finished) + ".", messages.WARNING
            )


@admin.register(ConversionChapter)
class ConversionChapterAdmin(GainColumn, ReadOnlyAdmin):
    list_display = (
        "conversion",
        "number",
        "chapter",
        "status",
        "attempts",
        "sent_at",
        "duration_ms",
        "gain",
    )
    list_filter = ("status",)
    search_fields = ("conversion__uuid", "chapter__title")
    list_select_related = ("conversion__book", "chapter")


@admin.register(Part)
class PartAdmin(ReadOnlyAdmin):
    list_display = (
        "id", "conversion", "index", "chapter", "status", "attempts", "worker", "heartbeat_at",
        "render_seconds", "duration_ms", "characters", "error_short",
    )  # fmt: skip
    list_filter = ("status", "attempts")
    search_fields = ("conversion__uuid", "worker", "error", "task_id")
    list_select_related = ("conversion__book", "chapter")
    show_full_result_count = False
    readonly_fields = (
        "conversion", "chapter", "index", "chapter_part_index", "characters", "speaks_title",
        "ends_paragraph", "cache_key", "status", "attempts", "worker", "heartbeat_at", "dispatched_at",
        "task_id", "started_at", "finished_at", "duration_ms", "error", "text",
    )  # fmt: skip
    exclude = ("sentences",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Part]:
        return super().get_queryset(request).defer("text", "sentences")

    @admin.display(description="render s")
    def render_seconds(self, part: Part) -> str:
        return _render_seconds(part)

    @admin.display(description="error")
    def error_short(self, part: Part) -> str:
        return _short(part.error)


@admin.register(PodcastFeed)
class PodcastFeedAdmin(ReadOnlyAdmin):
    """Who has a feed and when apps last fetched it; never the token (its owner renews or ends it)."""

    list_display = ("owner", "book", "created_at", "token_issued_at", "last_fetched_at")
    fields = list_display
    search_fields = ("owner__email", "book__title")
    list_select_related = ("owner", "book")
