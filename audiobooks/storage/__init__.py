"""Object storage for books: keys, transfers, links, bookkeeping and lifecycle.

The bucket is private and every key is made by the server (``keys``).
Modules, from the bottom up:

- ``conf``: the settings, read at call time, with their defaults.
- ``backend``: put, head, stream, download, list and delete objects, the same
  on ``S3Storage`` (R2 or any S3 endpoint) and on local ``FileSystemStorage``.
- ``headers``: RFC 6266 ``Content-Disposition`` and the content type of each kind.
- ``links``: short-lived links to read (GET) or write (PUT) one object: S3
  presigned URLs, or in local mode URLs to this app signed with ``SECRET_KEY``
  and served by ``audiobooks.web.local_links``.
- ``uploads``: the upload handler that streams a browser upload to a
  temporary file and stops it as soon as it passes the size cap.
- ``ranges``: HTTP Range for the local download view; ``zipstream``: a zip
  written while it is sent (a book's MP3s), never stored.
- ``services``: writes that keep ``StoredObject`` rows and objects in step,
  direct uploads (start, finish), deletion of a book's or a user's objects.
- ``lifecycle``: what ``purge_expired`` and ``reconcile_storage`` do.
"""
