from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models.functions import Lower


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        return self.create_user(email, password, **fields)


class User(AbstractUser):
    """A person, signed in by email; there are no usernames.

    ``uuid`` is the id used outside the database (storage keys, URLs), so the
    sequential primary key never leaks how many users there are.
    """

    username = None  # type: ignore[assignment]
    email = models.EmailField("email address", unique=True)
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    notify_by_email = models.BooleanField(
        "email me when an audiobook is ready",
        default=True,
        help_text="An email when a conversion completes or fails, with a link to the book.",
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.email


class MagicLink(models.Model):
    """A single-use sign-in link sent by email.

    Only the SHA-256 of the link's token is stored, so a copy of the database
    signs nobody in. The link is spent by a compare-and-swap on ``used_at``,
    so two browsers opening it at once cannot both sign in.
    """

    user = models.ForeignKey(
        "accounts.User", on_delete=models.CASCADE, related_name="magic_links", editable=False
    )
    email = models.EmailField(editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(editable=False)
    expires_at = models.DateTimeField(editable=False)
    used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("created_at")),
                name="accounts_magiclink_expires_after_creation",
            ),
        ]
        indexes = [models.Index(fields=["user", "created_at"])]

    def __str__(self) -> str:
        return f"magic link for {self.email} at {self.created_at:%Y-%m-%d %H:%M}"
