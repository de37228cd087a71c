"""Hostile or broken input to the history pages gets a 4xx or a page that names the problem,
never a 500: dates at the ends of the calendar, damaged cursors, huge page numbers, NUL bytes,
broken percent-escapes, and names full of URL syntax."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from datetime import timezone as dt_timezone
from urllib.parse import quote

import pytest
from django.contrib.auth.models import Group

from notifier import history
from notifier.history.deployment import deployment_detail
from notifier.storage.history_sql import SqlHistoryReader
from notifier.storage.orm import OrmStore
from tests.notifier.history.test_views import without_a_history_database
from tests.support.databases import POSTGRES_ALIAS, add_postgres_alias
from tests.support.history import deployment_event, register, seed_deployment, user
from tests.support.services import POSTGRES_HOW, missing

pytestmark = pytest.mark.django_db
HAVE_POSTGRES = add_postgres_alias()

PLUS_14 = dt_timezone(timedelta(hours=14))
MINUS_12 = dt_timezone(timedelta(hours=-12))


@pytest.fixture
def store():
    return OrmStore()


@pytest.fixture
def member(client):
    client.force_login(user("alice", team=Group.objects.create(name="storefront-team")))
    return client


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def raw_cursor(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# Values every query parameter is tried with: the ends of the calendar, numbers a page
# number cannot be, control characters, broken percent-escapes and broken UTF-8.
NASTY = [
    "9999-12-31",
    "0001-01-01",
    "0000-00-00",
    "-1",
    "0",
    "99999999999999999999999999",
    "-99999999999999999999999999",
    "1e400",
    "NaN",
    "inf",
    "%00",
    "a%00b",
    "%ff%fe",
    "%c3%28",
    "%",
    "%zz",
    "%e2%80%ae",
    "%0d%0aSet-Cookie:%20x=1",
    "'%20OR%201=1--",
    "<script>alert(1)</script>",
    "a" * 5000,
    "d-" + "Z" * 300,
    history.cursor_encode(datetime(1, 1, 1, tzinfo=PLUS_14), "d-AAAAAAAAA"),
    history.cursor_encode(datetime(9999, 12, 31, 23, 59, tzinfo=MINUS_12), "d-AAAAAAAAA"),
    history.cursor_encode(datetime(2026, 1, 1, tzinfo=UTC), "d-\x00"),
    raw_cursor(b"\xff\xfe|d-AAAAAAAAA"),
    raw_cursor(b"not a date|d-AAAAAAAAA"),
    raw_cursor(b"2026-01-01T00:00:00|d-AAAAAAAAA"),
    raw_cursor(b"2026-01-01T00:00:00+00:00|"),
    "!!!not-base64!!!",
]
LIST_PARAMETERS = [
    "q",
    "application",
    "deployment_group",
    "status",
    "event",
    "kind",
    "outcome",
    "since",
    "until",
    "before",
    "after",
    "page",
]


def get(client, path: str, name: str, value: str):
    """GET path?name=value with `value` put in the query string as it is (so a test can send
    percent-escapes that do not decode, the way a hostile client would)."""
    return client.get(f"{path}?{name}={value.replace(' ', '%20').replace('&', '%26')}")


# --- dates and cursors --------------------------------------------------------------------


def test_a_to_date_at_the_end_of_the_calendar_is_refused_by_name(member, store):
    register("storefront")
    seed_deployment(store, deployment_event("d-KEEP00001", "storefront"))
    response = member.get("/", {"until": "9999-12-31", "application": "storefront"})
    assert response.status_code == 200
    page = text(response)
    assert "To date: " in page and "9998-12-31" in page
    assert 'href="/deployments/d-KEEP00001/"' in page  # the valid application filter applies


def test_a_from_date_at_the_start_of_the_calendar_is_refused_east_of_utc(member, settings):
    settings.TIME_ZONE = "Pacific/Kiritimati"  # UTC+14: 0001-01-01 local is before year 1 UTC
    response = member.get("/", {"since": "0001-01-01"})
    assert response.status_code == 200
    assert "From date: " in text(response) and "1970-01-01" in text(response)


@pytest.mark.parametrize(
    "cursor",
    [
        history.cursor_encode(datetime(1, 1, 1, tzinfo=PLUS_14), "d-AAAAAAAAA"),
        history.cursor_encode(datetime(9999, 12, 31, 23, 59, tzinfo=MINUS_12), "d-AAAAAAAAA"),
    ],
    ids=["year-1-at-plus-14", "year-9999-at-minus-12"],
)
@pytest.mark.parametrize("direction", ["before", "after"])
def test_a_cursor_at_the_ends_of_the_calendar_shows_the_newest_page_and_says_so(
    member, store, cursor, direction
):
    register("storefront")
    seed_deployment(store, deployment_event("d-NEWEST001", "storefront"))
    response = member.get("/", {direction: cursor})
    assert response.status_code == 200
    page = text(response)
    assert "The page link is damaged or out of range" in page
    assert 'href="/deployments/d-NEWEST001/"' in page


def test_cursor_decode_refuses_times_outside_the_calendar_and_control_characters():
    year_one = history.cursor_encode(datetime(1, 1, 1, tzinfo=PLUS_14), "d-A")
    assert history.cursor_decode(year_one) is None
    assert history.cursor_decode(raw_cursor(b"2026-01-01T00:00:00+00:00|d-\x00")) is None
    assert history.cursor_decode("x" * 10_000) is None
    good = datetime(2026, 5, 1, 12, tzinfo=UTC)
    assert history.cursor_decode(history.cursor_encode(good, "d-ABCDEF123")) == (
        good,
        "d-ABCDEF123",
    )


def test_a_page_number_beyond_reason_is_refused_by_name_without_a_history_database(
    member, store, monkeypatch
):
    register("storefront")
    seed_deployment(store, deployment_event("d-DYNAMO001", "storefront"))
    without_a_history_database(monkeypatch)
    for value in ("99999999999999999999999999", "-5", "0", "two"):
        response = member.get("/", {"page": value})
        assert response.status_code == 200, value
        page = text(response)
        assert "page must be a whole number from 1 to 1,000,000" in page, value
        assert 'href="/deployments/d-DYNAMO001/"' in page, value


@pytest.mark.parametrize("name", LIST_PARAMETERS)
def test_no_hostile_value_of_a_list_parameter_is_a_server_error(member, store, name):
    register("storefront")
    seed_deployment(store, deployment_event("d-FUZZ00001", "storefront"))
    for value in NASTY:
        response = get(member, "/", name, value)
        assert response.status_code < 500, (name, value)


@pytest.mark.parametrize("name", LIST_PARAMETERS)
def test_no_hostile_value_is_a_server_error_without_a_history_database(
    member, store, monkeypatch, name
):
    register("storefront")
    seed_deployment(store, deployment_event("d-FUZZ00001", "storefront"))
    without_a_history_database(monkeypatch)
    for value in NASTY:
        response = get(member, "/", name, value)
        assert response.status_code < 500, (name, value)


@pytest.mark.parametrize("path", ["/dashboard/", "/status/", "/applications/storefront/"])
def test_no_hostile_query_parameter_on_the_other_pages_is_a_server_error(member, store, path):
    register("storefront")
    seed_deployment(store, deployment_event("d-FUZZ00001", "storefront"))
    for name in ("days", "page", "window", "since", "until"):
        for value in NASTY:
            response = get(member, path, name, value)
            assert response.status_code < 500, (path, name, value)


@pytest.mark.parametrize(
    "segment",
    [
        "%00",
        "d-%00",
        "%ff%fe",
        "%c3%28",
        "%25",
        "%2e%2e",
        "..%2f..%2fetc",
        "a" * 3000,
        "%e2%80%ae",
        "%0d%0a",
    ],
)
def test_no_hostile_deployment_id_or_application_name_in_a_path_is_a_server_error(member, segment):
    register("storefront")
    for path in (f"/deployments/{segment}/", f"/applications/{segment}/"):
        response = member.get(path)
        assert response.status_code in (404, 200), (path, response.status_code)


def test_a_search_with_a_nul_byte_is_refused_by_name(member):
    response = member.get("/?q=d-%00&application=a%00")
    assert response.status_code == 200
    page = text(response)
    assert "Search: Null characters are not allowed." in page
    assert "Application: Null characters are not allowed." in page


@pytest.mark.postgres
@pytest.mark.django_db(
    transaction=True, databases=["default", POSTGRES_ALIAS] if HAVE_POSTGRES else ["default"]
)
def test_postgres_is_never_asked_about_a_nul_or_a_time_outside_its_calendar():
    if not HAVE_POSTGRES:
        missing("PostgreSQL", POSTGRES_HOW)
    postgres = OrmStore(using=POSTGRES_ALIAS)
    reader = SqlHistoryReader(POSTGRES_ALIAS)
    seed_deployment(postgres, deployment_event("d-PGNASTY01", "storefront"))
    for value in NASTY:
        for direction in ("before", "after"):
            page = history.deployment_list(
                filters=history.HistoryFilters(), reader=reader, **{direction: value}
            )
            assert [r.deployment_id for r in page.rows] == ["d-PGNASTY01"], (direction, value)
    for deployment_id in ("\x00", "d-\x00", "d-PGNASTY01\x00"):
        assert deployment_detail(deployment_id=deployment_id, user=None, reader=reader) is None


# --- names and ids full of URL syntax -----------------------------------------------------

ODD_APPLICATION = "a b&c?d#e%"
ODD_DEPLOYMENT = "d-a b&c?d#e%"


def hrefs(response) -> list[str]:
    return [
        h.replace("&amp;", "&") for h in re.findall(r'href="([^"]+)"', response.content.decode())
    ]


def test_names_and_ids_with_url_syntax_produce_links_that_lead_to_the_right_pages(member, store):
    register(ODD_APPLICATION)
    register("a b")  # what a link cut at the '&' would name
    seed_deployment(store, deployment_event(ODD_DEPLOYMENT, ODD_APPLICATION))

    listing = member.get("/")
    assert listing.status_code == 200
    links = hrefs(listing)
    detail_link = f"/deployments/{quote(ODD_DEPLOYMENT, safe='&')}/"
    application_link = f"/applications/{quote(ODD_APPLICATION, safe='&')}/"
    assert detail_link in links and application_link in links

    detail = member.get(detail_link)
    assert detail.status_code == 200
    assert detail.context["event"].deployment_id == ODD_DEPLOYMENT
    assert application_link in hrefs(detail)

    application = member.get(application_link)
    assert application.status_code == 200
    assert application.context["summary"].application == ODD_APPLICATION
    assert detail_link in hrefs(application)
    (every,) = [h for h in hrefs(application) if h.startswith("/?application=")]
    filtered = member.get(every)
    assert filtered.status_code == 200
    assert filtered.context["page"].rows[0].deployment_id == ODD_DEPLOYMENT
    assert filtered.context["form"].cleaned_data["application"] == ODD_APPLICATION


def test_an_application_name_with_a_slash_links_to_its_own_page(member, store, admin_client):
    register("team/storefront")
    seed_deployment(store, deployment_event("d-SLASH0001", "team/storefront"))
    listing = member.get("/")
    assert listing.status_code == 200
    assert "/applications/team/storefront/" in hrefs(listing)
    application = member.get("/applications/team/storefront/")
    assert application.status_code == 200
    assert application.context["summary"].application == "team/storefront"
    assert admin_client.get("/admin/registrations/registration/").status_code == 200


def test_the_pages_of_a_deployment_whose_id_has_a_slash_open(member, store):
    register("storefront")
    seed_deployment(store, deployment_event("d-x/y", "storefront"))
    listing = member.get("/")
    assert listing.status_code == 200
    assert "/deployments/d-x/y/" in hrefs(listing)
    detail = member.get("/deployments/d-x/y/")
    assert detail.status_code == 200
    assert detail.context["event"].deployment_id == "d-x/y"


def test_a_deployment_without_an_application_name_still_lists(member, store):
    register("storefront")
    seed_deployment(store, deployment_event("d-NONAME001", ""))
    listing = member.get("/")
    assert listing.status_code == 200
    assert "/deployments/d-NONAME001/" in hrefs(listing)
    assert member.get("/deployments/d-NONAME001/").status_code == 200
