"""Feature switches and flags (django-waffle): made by migrate, managed in the admin, public for pages."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from waffle.models import Flag, Switch

from accounts.models import User
from ebookvoice import flags
from ebookvoice.tests.flag_helpers import own_cache_prefix, switch
from tts_engine.registry import DEFAULT_VOICE

pytestmark = pytest.mark.django_db

APP = "/_allauth/app/v1"
__all__ = ["own_cache_prefix"]  # an autouse fixture


def test_migrate_makes_every_switch_off_with_a_note_and_the_status_page_flag_for_staff_only():
    made = {s.name: s for s in Switch.objects.all()}
    for name in (
        "maintenance",
        "signups_closed",
        "engine_off:piper",
        "engine_off:coqui",
        f"voice_off:{DEFAULT_VOICE}",
    ):
        assert name in made, name
        assert made[name].active is False
        assert made[name].note
    flag = Flag.objects.get(name="status_page")
    assert (flag.everyone, flag.staff, flag.superusers) == (None, True, True)


def test_staff_manage_switches_and_flags_in_the_admin(client, staff):
    client.force_login(staff)
    page = client.get("/admin/waffle/switch/")
    assert page.status_code == 200
    assert b"maintenance" in page.content
    assert b"signups_closed" in page.content
    assert client.get("/admin/waffle/flag/").status_code == 200


def test_a_setting_staff_made_is_kept_when_migrate_runs_again():
    switch("maintenance")
    flags.ensure_defaults()
    assert Switch.objects.get(name="maintenance").active is True


def test_the_public_flags_are_readable_without_signing_in(client):
    switch("maintenance")
    switch(f"voice_off:{DEFAULT_VOICE}")
    response = client.get("/flags.json")
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["maintenance"] is True
    assert "downloaded" in body["maintenance_message"]
    assert body["signups_open"] is True
    assert body["disabled_voices"] == [DEFAULT_VOICE]
    assert body["disabled_engines"] == []
    assert body["features"] == {"status_page": False}
    assert "no-cache" in response["Cache-Control"]


def test_the_public_flags_say_which_features_are_on_for_the_person_asking(staff):
    client = Client()
    client.force_login(staff)
    assert json.loads(client.get("/flags.json").content)["features"] == {"status_page": True}


def test_templates_read_the_flags_through_the_context_processor(rf):
    switch("signups_closed")
    request = rf.get("/")
    request.user = User()
    assert flags.context(request)["flags"]["signups_open"] is False


def test_switches_are_read_from_the_database_when_the_cache_is_down(settings):
    switch("maintenance")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    assert flags.maintenance_on() is True


# --- Signups ------------------------------------------------------------------------------


def test_with_signups_closed_the_signup_page_says_so_and_makes_no_account(client):
    switch("signups_closed")
    page = client.get("/accounts/signup/")
    assert b"Sign Up Closed" in page.content or b"closed" in page.content.lower()
    client.post(
        "/accounts/signup/", {"email": "new@example.com", "password1": "a long and unusual passphrase 42"}
    )
    assert not User.objects.filter(email="new@example.com").exists()


def test_with_signups_closed_the_app_api_refuses_a_signup(client):
    switch("signups_closed")
    response = client.post(
        f"{APP}/auth/signup",
        {"email": "new@example.com", "password": "a long and unusual passphrase 42"},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert not User.objects.filter(email="new@example.com").exists()


def test_with_signups_open_again_people_can_sign_up(client):
    switch("signups_closed", active=False)
    client.post(
        "/accounts/signup/", {"email": "new@example.com", "password1": "a long and unusual passphrase 42"}
    )
    assert User.objects.filter(email="new@example.com").exists()


# --- The status page, rolled out to staff first ----------------------------------------------


def test_staff_see_the_status_page_with_workers_and_queues(staff):
    client = Client()
    client.force_login(staff)
    page = client.get("/status")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Service status" in html
    assert "Waiting in “synthesis”" in html
    assert "Rendering (from Part heartbeats)" in html


def test_the_status_page_is_hidden_from_readers_and_visitors_until_it_is_rolled_out(client, owner):
    assert client.get("/status").status_code == 404
    client.force_login(owner)
    assert client.get("/status").status_code == 404


def test_rolled_out_to_everyone_readers_see_the_summary_but_not_the_workers(client, owner):
    flag = Flag.objects.get(name="status_page")
    flag.everyone = True
    flag.save()
    flag.flush()  # done on commit in the admin; a test's transaction never commits
    client.force_login(owner)
    page = client.get("/status?format=json")
    assert page.status_code == 200
    data = json.loads(page.content)
    assert set(data) >= {"accepting_work", "queues", "workers_answering", "workers_rendering"}
    assert "workers_ping" not in data
    assert "workers_heartbeats" not in data


def test_migrate_on_a_fresh_embedded_install_needs_no_redis(tmp_path):
    import os
    import subprocess
    import sys

    from ebookvoice.paths import BASE_DIR

    environ = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CACHE_URL")
    }
    environ |= {"DJANGO_SETTINGS_MODULE": "ebookvoice.settings.base", "EBOOKVOICE_VAR_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=BASE_DIR, env=environ, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
