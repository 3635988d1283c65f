"""The books API under ``/api/v1/``: one view per use case, each calling services and selectors.

Authenticated by ``X-Session-Token`` (allauth's headless app sessions); the
listening endpoints also take the browser's session and CSRF token, for the
web player. Errors come in the one envelope of ``ebookvoice.api.errors``.
"""
