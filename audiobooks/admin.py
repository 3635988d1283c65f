from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import Book, Chapter, Conversion, Part, StoredObject
from .services import book_delete_in_admin


class ChapterInline(admin.TabularInline):
    model = Chapter
    fields = ("index", "title", "words", "chars", "included", "exclusion_reason")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


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
    # their rows (read-only in the admin) are the service's to delete.
    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed.discard(StoredObject._meta.verbose_name)
        return deleted, counts, perms_needed, protected

    def delete_model(self, request: HttpRequest, obj: Book) -> None:
        book_delete_in_admin(book=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Book]) -> None:
        for book in queryset.select_related("owner"):
            book_delete_in_admin(book=book)


@admin.register(Chapter)
class ChapterAdmin(admin.ModelAdmin):
    list_display = ("title", "book", "index", "words", "included")
    list_filter = ("included",)
    search_fields = ("title", "book__title")
    list_select_related = ("book",)
    readonly_fields = ("book", "index", "words", "chars")


@admin.register(StoredObject)
class StoredObjectAdmin(admin.ModelAdmin):
    """Read-only: rows change only with their objects (services, purge_expired, reconcile_storage)."""

    list_display = ("key", "kind", "owner", "size", "content_type", "expires_at", "created_at")
    list_filter = ("kind",)
    search_fields = ("key", "owner__email", "book__uuid", "uuid")
    list_select_related = ("owner",)
    readonly_fields = (
        "uuid", "key", "owner", "book", "kind", "size", "content_type", "filename",
        "expires_at", "created_at",
    )  # fmt: skip

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PartInline(admin.TabularInline):
    """Read-only: Parts change only through the pipeline's claims and the reaper."""

    model = Part
    fields = (
        "index", "chapter", "chapter_part_index", "characters", "status", "attempts", "worker",
        "heartbeat_at", "duration_ms", "error",
    )  # fmt: skip
    readonly_fields = fields
    ordering = ("index",)
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Conversion)
class ConversionAdmin(admin.ModelAdmin):
    """Read-only: a conversion moves only through its services, which charge and refund."""

    list_display = (
        "uuid", "book", "owner", "status", "voice_key", "speed", "characters", "credits_charged",
        "created_at", "finished_at",
    )  # fmt: skip
    list_filter = ("status", "voice_key", "cancel_requested")
    search_fields = ("uuid", "owner__email", "book__title", "book__uuid")
    list_select_related = ("owner", "book")
    date_hierarchy = "created_at"
    readonly_fields = (
        "uuid", "owner", "book", "status", "voice_key", "speed", "characters", "credits_charged",
        "idempotency_key", "cancel_requested", "error_message", "created_at", "started_at", "finished_at",
    )  # fmt: skip
    exclude = ("chapters",)
    inlines = (PartInline,)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
