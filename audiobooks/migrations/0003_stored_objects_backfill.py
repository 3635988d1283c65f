# Rows for the files books stored before StoredObject existed: each original,
# and each cover (its size read from storage), so storage_used counts them
# and reconcile_storage does not take them for leaks.

from pathlib import PurePosixPath

from django.core.files.storage import default_storage
from django.db import migrations

TYPES = {
    "epub": "application/epub+zip", "pdf": "application/pdf", "txt": "text/plain", "html": "text/html",
    "htm": "text/html", "xhtml": "application/xhtml+xml", "jpg": "image/jpeg", "png": "image/png",
    "gif": "image/gif", "webp": "image/webp",
}


def _type(key):
    return TYPES.get(PurePosixPath(key).suffix.lstrip(".").lower(), "application/octet-stream")


def backfill(apps, schema_editor):
    Book = apps.get_model("audiobooks", "Book")
    StoredObject = apps.get_model("audiobooks", "StoredObject")
    known = set(StoredObject.objects.values_list("key", flat=True))
    for book in Book.objects.iterator():
        if book.original_key and book.original_key not in known:
            StoredObject.objects.create(
                key=book.original_key, owner_id=book.owner_id, book=book, kind="original",
                size=book.original_size, content_type=_type(book.original_key),
                filename=book.original_filename, created_at=book.created_at,
            )
        if book.cover_key and book.cover_key not in known:
            try:
                size = default_storage.size(book.cover_key)
            except (FileNotFoundError, OSError):
                continue
            StoredObject.objects.create(
                key=book.cover_key, owner_id=book.owner_id, book=book, kind="cover",
                size=size, content_type=_type(book.cover_key), created_at=book.created_at,
            )


class Migration(migrations.Migration):
    dependencies = [("audiobooks", "0002_stored_objects")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
