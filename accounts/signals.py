"""Hooks through which other apps take part in account deletion and export.

``accounts`` knows nothing about books, audio or credits; each app that keeps
data about a person connects receivers here (in its ``AppConfig.ready``), so
dependencies keep pointing at ``accounts`` and never back.
"""

from __future__ import annotations

from django.dispatch import Signal

#: Sent with ``user`` inside the deletion transaction, before the user row is
#: deleted. Each receiver deletes (or detaches) its own app's data; an error
#: rolls the whole deletion back. Slow work, such as deleting stored files,
#: belongs in ``transaction.on_commit``.
user_deleting = Signal()

#: Sent with ``user`` to build a data export. Each receiver returns a dict of
#: top-level sections (``{"books": [...]}``) of JSON-serialisable data.
user_exporting = Signal()

#: Sent with ``user`` to build the account page. Each receiver returns a dict
#: of template context for the sections its app owns on that page
#: (``{"usage": ...}``), which ``templates/account/settings.html`` shows.
account_page_building = Signal()
