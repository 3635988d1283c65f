"""Reads of books that check who is asking."""

from __future__ import annotations

from uuid import UUID

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import User

from .models import Book


def books_for_user(*, user: User) -> QuerySet[Book]:
    return Book.objects.filter(owner=user)


def book_get_for_user(*, user: User, book_uuid: UUID) -> Book:
    """The user's book, or 404: another user's book is indistinguishable from none."""
    return get_object_or_404(books_for_user(user=user), uuid=book_uuid)
