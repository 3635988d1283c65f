"""Feature flags and switches (django-waffle), managed by staff in the admin.

Switches are on or off for everyone; every one of ours is off in normal
operation, so a missing switch (a fresh database) means "business as usual":

- ``maintenance``: new uploads and conversions are refused with a message;
  pages, playback and downloads keep working.
- ``signups_closed``: nobody can create an account (the web form and the app API).
- ``engine_off:<engine>`` and ``voice_off:<engine>:<voice>``: the engine or
  the voice disappears from the catalogue and is refused at submission.

Flags are on for some people: ``status_page`` is the public status page,
rolled out to staff first (``staff=True``) and then to everyone.

``ebookvoice.apps`` creates each of these after ``migrate`` (off, with a note
saying what it does), so staff find them in the admin. What a page needs to
know is public: ``/flags.json`` and the ``flags`` template variable.

Waffle keeps flags in the cache; when the cache is down the switches are read
from the database, so a Redis outage never opens signups or ends maintenance.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, Protocol, TypeVar

import waffle
from django.http import HttpRequest, JsonResponse
from django.utils.functional import SimpleLazyObject
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

MAINTENANCE = "maintenance"
SIGNUPS_CLOSED = "signups_closed"
STATUS_PAGE = "status_page"

MAINTENANCE_MESSAGE = (
    "eBookVoice is being updated, so new uploads and conversions are paused for a little while. "
    "Your audiobooks can still be played and downloaded. Please try again later."
)
SIGNUPS_CLOSED_MESSAGE = "New accounts cannot be made at the moment. Please come back later."

# What each switch and flag does, written on it in the admin.
NOTES: dict[str, str] = {
    MAINTENANCE: "On: new uploads and conversions are refused with a message; downloads keep working.",
    SIGNUPS_CLOSED: "On: nobody can create an account, on the web or in the app.",
    STATUS_PAGE: "The public status page (/status). Staff first; set Everyone to Yes to open it to all.",
}


def engine_switch(engine: str) -> str:
    return f"engine_off:{engine}"


def voice_switch(voice_key: str) -> str:
    return f"voice_off:{voice_key}"


def _active_switches() -> set[str]:
    from waffle.models import Switch  # noqa: PLC0415  (models load after this module: apps import it)

    try:
        switches = Switch.get_all()  # one cache read for all of them
    except Exception:
        logger.warning("waffle: the cache is unavailable, reading switches from the database", exc_info=True)
        try:
            return set(Switch.objects.filter(active=True).values_list("name", flat=True))
        except Exception:
            # No database either (or one never migrated): every switch is off, business as usual;
            # whatever needed the database fails on its own with its own error.
            logger.warning("waffle: switches cannot be read, treating all as off", exc_info=True)
            return set()
    return {switch.name for switch in switches if switch.active}


def switch_on(name: str) -> bool:
    return name in _active_switches()


def maintenance_on() -> bool:
    return switch_on(MAINTENANCE)


def signups_open() -> bool:
    return not switch_on(SIGNUPS_CLOSED)


def voice_enabled(voice_key: str) -> bool:
    """Off when its own switch or its engine's is on; a key that is no voice at all is not refused here."""
    active = _active_switches()
    engine = voice_key.partition(":")[0]
    return engine_switch(engine) not in active and voice_switch(voice_key) not in active


class _HasKey(Protocol):
    @property
    def key(self) -> str: ...

    @property
    def engine(self) -> str: ...


V = TypeVar("V", bound=_HasKey)


def voices_enabled(voices: Iterable[V]) -> list[V]:
    """The voices not switched off, themselves or through their engine."""
    active = _active_switches()
    return [
        voice
        for voice in voices
        if engine_switch(voice.engine) not in active and voice_switch(voice.key) not in active
    ]


def disabled(prefix: str) -> list[str]:
    return sorted(name.removeprefix(prefix) for name in _active_switches() if name.startswith(prefix))


def feature_active(request: HttpRequest, name: str) -> bool:
    """A waffle flag for this request's user; off when the cache cannot be read."""
    try:
        return bool(waffle.flag_is_active(request, name))
    except Exception:
        logger.warning("waffle: could not read flag %s, treating it as off", name, exc_info=True)
        return False


def public_flags(request: HttpRequest) -> dict[str, Any]:
    """What pages and apps may know before anyone signs in."""
    maintenance = maintenance_on()
    return {
        "maintenance": maintenance,
        "maintenance_message": MAINTENANCE_MESSAGE if maintenance else "",
        "signups_open": signups_open(),
        "disabled_engines": disabled("engine_off:"),
        "disabled_voices": disabled("voice_off:"),
        "features": {STATUS_PAGE: feature_active(request, STATUS_PAGE)},
    }


@never_cache
@require_safe
def flags_json(request: HttpRequest) -> JsonResponse:
    """``GET /flags.json``: the public flags, for pages and apps; no sign-in needed."""
    return JsonResponse(public_flags(request))


def context(request: HttpRequest) -> dict[str, Any]:
    """Template context processor: ``{{ flags.maintenance }}``, read only when a template uses it."""
    return {"flags": SimpleLazyObject(lambda: public_flags(request))}


def switches_ensure(switches: dict[str, str]) -> None:
    """Create these switches (name: note), off; those that exist stay exactly as staff set them.

    Created in bulk, which sends no save signals: waffle's would clear its
    cache, and ``migrate`` must work while the cache (Redis) is not running,
    as on a fresh install.
    """
    from waffle.models import Switch  # noqa: PLC0415  (models load after this module: apps import it)

    Switch.objects.bulk_create(
        [Switch(name=name, active=False, note=note) for name, note in switches.items()], ignore_conflicts=True
    )


def ensure_defaults(**_: Any) -> None:
    """After ``migrate``: create our switches and flags (off, with notes) so staff can find them.

    The engines' and voices' switches are ``tts_engine``'s to create
    (``tts_engine.catalogue.voice_switches_ensure``).
    """
    from waffle.models import Flag  # noqa: PLC0415  (models load after this module: apps import it)

    switches_ensure({name: NOTES[name] for name in (MAINTENANCE, SIGNUPS_CLOSED)})
    Flag.objects.bulk_create(
        [Flag(name=STATUS_PAGE, everyone=None, staff=True, superusers=True, note=NOTES[STATUS_PAGE])],
        ignore_conflicts=True,
    )
