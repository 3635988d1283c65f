"""Object operations that work the same on S3 (R2) and on the local file system.

Django's ``Storage`` API covers saving and opening, but not what this app
needs from a bucket: a put under an exact key (no renamed duplicates), a HEAD
with the stored content type, ranged and streamed reads that never buffer a
whole object in memory (django-storages' ``S3File`` does), recursive listings
and batched deletes. Each function here does one of those on
``default_storage``, whichever backend it is.

Keys are bucket keys: the S3 backend is expected to have no ``location``.

Every request to S3 goes through the storage circuit breaker
(``ebookvoice.breakers``): after five consecutive failures (no connection, a
timeout, a 5xx) each call fails at once with ``ServiceUnavailable`` (503,
``Retry-After``) for 30 seconds instead of waiting out its timeouts
(``STORAGE_S3_CONNECT_TIMEOUT_SECONDS``, ``STORAGE_S3_READ_TIMEOUT_SECONDS``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TypeVar

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, default_storage

from ebookvoice.breakers import guarded

T = TypeVar("T")

CHUNK_SIZE = 256 * 1024
DELETE_BATCH = 1000  # the most keys one S3 DeleteObjects call takes


def _transfer_config() -> TransferConfig:
    """Multipart transfers in 8 MB parts, at most four in memory at once (boto3's default is ten)."""
    config = TransferConfig(multipart_chunksize=8 * 1024 * 1024, max_concurrency=4)
    config.max_in_memory_upload_chunks = 4
    return config


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    modified: datetime
    # Only a HEAD on S3 knows it; listings and local files do not keep one.
    content_type: str | None = None


def storage() -> Storage:
    return default_storage


def is_s3() -> bool:
    from storages.backends.s3 import S3Storage  # noqa: PLC0415  (boto3 loads only where S3 is configured)

    # default_storage is a lazy proxy; its class is the configured backend's.
    return isinstance(default_storage, S3Storage)


def s3() -> tuple[Any, str]:
    """The boto3 client and bucket name of the S3 default storage."""
    backend: Any = default_storage
    return backend.connection.meta.client, backend.bucket_name


def _s3_call(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """One request to S3, through the storage circuit breaker."""
    return guarded("storage", func, *args, **kwargs)


def _s3_pages(pages: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """A paginator's pages, each fetched through the breaker."""
    iterator = iter(pages)
    while True:
        try:
            page = _s3_call(next, iterator)
        except StopIteration:
            return
        yield page


def _local() -> FileSystemStorage:
    if not isinstance(default_storage, FileSystemStorage):
        raise TypeError(f"unsupported storage backend: {type(default_storage).__name__}")
    return default_storage


def _not_found(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}


def object_put(key: str, content: IO[bytes] | File, *, content_type: str) -> int:
    """Write ``content`` under exactly ``key``, replacing what was there; return its size.

    Reads ``content`` in chunks, so a file of any size passes through in
    bounded memory.
    """
    if is_s3():
        client, bucket = s3()
        backend: Any = default_storage
        config = backend.transfer_config or _transfer_config()
        extra = {"ContentType": content_type}
        if hasattr(content, "temporary_file_path"):
            # A file on disk (a streamed upload): read part by part from the file.
            _s3_call(
                client.upload_file, content.temporary_file_path(), bucket, key, ExtraArgs=extra, Config=config
            )
        else:
            fileobj = content.file if isinstance(content, File) and content.file is not None else content
            if hasattr(fileobj, "seek"):
                fileobj.seek(0)
            _s3_call(client.upload_fileobj, fileobj, bucket, key, ExtraArgs=extra, Config=config)
    else:
        local = _local()
        local.delete(key)
        saved = local.save(key, content if isinstance(content, File) else File(content))
        if saved != key:  # another writer won the race for this key
            local.delete(saved)
            raise FileExistsError(f"storage key taken while writing: {key}")
    info = object_head(key)
    if info is None:
        raise FileNotFoundError(f"object vanished right after it was written: {key}")
    return info.size


def object_head(key: str) -> ObjectInfo | None:
    """Size, time and (on S3) content type of one object, or None when there is none."""
    if is_s3():
        client, bucket = s3()
        try:
            head = _s3_call(client.head_object, Bucket=bucket, Key=key)
        except ClientError as error:
            if _not_found(error):
                return None
            raise
        return ObjectInfo(key, head["ContentLength"], head["LastModified"], head.get("ContentType"))
    try:
        stat = os.stat(_local().path(key))
    except FileNotFoundError:
        return None
    return ObjectInfo(key, stat.st_size, datetime.fromtimestamp(stat.st_mtime, tz=UTC))


def objects_delete(keys: Iterable[str]) -> int:
    """Delete these objects, in batches; a key with no object is not an error. Returns how many keys."""
    batch: list[str] = []
    count = 0
    for key in keys:
        batch.append(key)
        if len(batch) == DELETE_BATCH:
            count += _delete_batch(batch)
            batch = []
    if batch:
        count += _delete_batch(batch)
    return count


def _delete_batch(keys: list[str]) -> int:
    if is_s3():
        client, bucket = s3()
        response = _s3_call(
            client.delete_objects,
            Bucket=bucket,
            Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True},
        )
        if errors := response.get("Errors"):
            raise OSError(f"could not delete {len(errors)} objects, first {errors[0]}")
    else:
        local = _local()
        for key in keys:
            local.delete(key)
    return len(keys)


def objects_delete_prefix(prefix: str) -> int:
    """Delete every object whose key starts with ``prefix`` (a folder, ending in ``/``)."""
    if not prefix.endswith("/"):
        raise ValueError(f"a prefix ends with '/': {prefix!r}")
    count = objects_delete(info.key for info in objects_under(prefix))
    if not is_s3():
        _remove_empty_folders(Path(_local().path(prefix)))
    return count


def _remove_empty_folders(root: Path) -> None:
    if not root.is_dir():
        return
    for folder, _, _ in sorted(os.walk(root), key=lambda entry: -len(entry[0])):
        with contextlib.suppress(OSError):  # not empty: something new was written there
            Path(folder).rmdir()


def objects_under(prefix: str) -> Iterator[ObjectInfo]:
    """Every object whose key starts with ``prefix``, at any depth."""
    if is_s3():
        client, bucket = s3()
        for page in _s3_pages(client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)):
            for entry in page.get("Contents", ()):
                yield ObjectInfo(entry["Key"], entry["Size"], entry["LastModified"])
        return
    local = _local()
    root = Path(local.location)
    base = Path(local.path(prefix)) if prefix.endswith("/") else Path(local.path(prefix)).parent
    if not base.is_dir():
        return
    for folder, _, files in os.walk(base):
        for name in sorted(files):
            path = Path(folder) / name
            key = path.relative_to(root).as_posix()
            if key.startswith(prefix):
                stat = path.stat()
                yield ObjectInfo(key, stat.st_size, datetime.fromtimestamp(stat.st_mtime, tz=UTC))


def child_prefixes(prefix: str) -> list[str]:
    """The "folders" right under ``prefix``: ``users/`` gives ``users/<uuid>/`` for each user."""
    if is_s3():
        client, bucket = s3()
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/")
        return [entry["Prefix"] for page in _s3_pages(pages) for entry in page.get("CommonPrefixes", ())]
    base = Path(_local().path(prefix))
    if not base.is_dir():
        return []
    return sorted(f"{prefix}{child.name}/" for child in base.iterdir() if child.is_dir())


def object_chunks(
    key: str, *, start: int = 0, end: int | None = None, chunk_size: int = CHUNK_SIZE
) -> Iterator[bytes]:
    """The bytes ``start``..``end`` (inclusive; None for the last) of an object, streamed.

    Raises FileNotFoundError, before the first chunk, when there is no object.
    """
    if is_s3():
        client, bucket = s3()
        extra = {"Range": f"bytes={start}-{'' if end is None else end}"} if start or end is not None else {}
        try:
            body = _s3_call(client.get_object, Bucket=bucket, Key=key, **extra)["Body"]
        except ClientError as error:
            if _not_found(error):
                raise FileNotFoundError(key) from error
            raise
        return _s3_chunks(body, chunk_size)
    handle = Path(_local().path(key)).open("rb")  # noqa: SIM115  # closed by the generator
    return _file_chunks(handle, start, end, chunk_size)


def _s3_chunks(body: Any, chunk_size: int) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(chunk_size)
    finally:
        body.close()


def _file_chunks(handle: IO[bytes], start: int, end: int | None, chunk_size: int) -> Iterator[bytes]:
    try:
        handle.seek(start)
        remaining = None if end is None else end - start + 1
        while remaining is None or remaining > 0:
            chunk = handle.read(chunk_size if remaining is None else min(chunk_size, remaining))
            if not chunk:
                return
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk
    finally:
        handle.close()


def object_download(key: str, target: Path) -> None:
    """Copy an object to a local file, streamed (S3: ranged parallel GETs)."""
    if is_s3():
        client, bucket = s3()
        backend: Any = default_storage
        try:
            _s3_call(
                client.download_file,
                bucket,
                key,
                str(target),
                Config=backend.transfer_config or _transfer_config(),
            )
        except ClientError as error:
            if _not_found(error):
                raise FileNotFoundError(key) from error
            raise
        return
    shutil.copyfile(_local().path(key), target)
