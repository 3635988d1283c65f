from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    ["/", "/accounts/login/", "/accounts/signup/", "/accounts/magic-link/", "/accounts/password/reset/",
     "/accounts/login/code/"],
)  # fmt: skip
def test_every_sign_in_page_renders_for_a_visitor(client, path):
    response = client.get(path)
    assert response.status_code == 200
