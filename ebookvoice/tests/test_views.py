from __future__ import annotations

import pytest


def test_the_landing_page_explains_the_product(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Your ebooks, read aloud." in response.content


@pytest.mark.django_db
def test_healthz_answers_ok_without_touching_dependencies(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert (response.status_code, response.content) == (200, b"ok")


def test_static_files_are_served_by_whitenoise(client):
    response = client.get("/static/css/app.css")
    assert response.status_code == 200
    assert b"--accent" in b"".join(response.streaming_content)
