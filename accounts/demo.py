"""The local demo account that ``./dev up`` creates (never used in production)."""

DEMO_EMAIL = "demo@ebookvoice.local"
DEMO_PASSWORD = "listen-to-books"  # noqa: S105 (local demo only)
