"""The server-rendered pages and the file views, each module named for what it serves.

Pages: ``library`` (``/books/``, ``/books/new``), ``book_page`` (the player and
its status poll), ``convert`` (chapters, voice, quote), ``credits``,
``player`` (captions, the listening position), ``voices`` (the catalogue and
previews, JSON). Files: ``uploads`` (the streamed upload), ``downloads`` (a
book's files, the MP3 zip, the ACX export), ``local_links`` (local mode's
signed links). ``common`` holds what they share. Views build no queries of
their own: every read is a ``selectors`` call.
"""
