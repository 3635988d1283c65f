"""What every view under ``/api/`` shares: the error envelope, pagination and the OpenAPI schema.

The views themselves live in their apps (``accounts.apis``, ``audiobooks.api``,
``credits.apis``); this package only holds the conventions they follow.
"""
