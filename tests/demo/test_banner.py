"""The demo's banner: on every HTML page while the demo runs, nowhere otherwise."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

BANNER = "simulated AWS on this machine; notifications go to the"
PAGES = ("/", "/admin/", "/api/docs/", "/status/", "/demo/inbox/")


@pytest.fixture
def staff(client, django_user_model):
    client.force_login(
        django_user_model.objects.create_user("admin", is_staff=True, is_superuser=True)
    )
    return client


def right_after_body(html: str) -> bool:
    after_body = html[html.index(">", html.index("<body")) + 1 :]
    return after_body.startswith('<div class="demo-banner"') and BANNER in after_body[:600]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_carries_the_banner_in_the_demo(settings, staff, path):
    settings.NOTIFIER_DEMO = True

    page = staff.get(path)

    assert page.status_code == 200
    html = page.content.decode()
    assert right_after_body(html)
    assert 'href="/demo/inbox/"' in html


def test_the_sign_in_page_and_a_404_carry_it_too(settings, client):
    settings.NOTIFIER_DEMO = True

    for path, status in (("/login/", 200), ("/no-such-page/", 404)):
        page = client.get(path)
        assert page.status_code == status
        assert right_after_body(page.content.decode()), path


@pytest.mark.parametrize("path", ("/", "/admin/", "/api/docs/", "/login/"))
def test_no_page_carries_it_outside_the_demo(settings, staff, path):
    settings.NOTIFIER_DEMO = False

    assert BANNER not in staff.get(path).content.decode()


def test_json_answers_are_left_alone(settings, staff):
    settings.NOTIFIER_DEMO = True

    answer = staff.get("/api/registrations/")

    assert answer["Content-Type"].startswith("application/json")
    assert BANNER not in answer.content.decode()
