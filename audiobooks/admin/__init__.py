"""The admin for staff: books, conversions and their Parts (``books``), and the users list (``users``)."""

from . import books, users  # noqa: F401  (registering is importing)
