from __future__ import annotations

from django.contrib import admin

from .models import Book, Chapter


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


@admin.register(Chapter)
class ChapterAdmin(admin.ModelAdmin):
    list_display = ("title", "book", "index", "words", "included")
    list_filter = ("included",)
    search_fields = ("title", "book__title")
    list_select_related = ("book",)
    readonly_fields = ("book", "index", "words", "chars")
