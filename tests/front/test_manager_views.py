"""The practice manager's tools over HTTP: visit import, invitations list, QR cards; and who may use them."""

import datetime as dt
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import NoReverseMatch, include, path, reverse
from django.utils import timezone

from audit.models import Action, AuditEvent
from front import manager_views
from interchange.ehr import parse as imports
from surveys import selectors, services
from surveys.models import Invitation, Visit
from surveys.tokens import hash_token
from tests import factories

# Until surveys/urls.py mounts front.manager_urls, these tests mount it themselves with this module
# as the URLconf; once it is mounted they run against the real one.
urlpatterns = [
    path("practice/<slug:slug>/", include("front.manager_urls")),
    path("", include("healing.urls")),
]
try:
    reverse("manager_import", args=["x"])
except NoReverseMatch:
    pytestmark = pytest.mark.urls(__name__)

D1, D2 = dt.date(2025, 3, 4), dt.date(2025, 3, 5)
GOOD = (
    "date,clinician,patient,email,phone\r\n"
    "2025-03-04,clin-a,PA-001,ana@example.org,\r\n"
    "2025-03-04,clin-a2,PA-002,,+34 600 000 000\r\n"
    "2025-03-05,clin-a,PA-003,,\r\n"
).encode()


def upload(client, practice, data: bytes, name="visits.csv"):
    return client.post(
        reverse("manager_import", args=[practice.slug]), {"file": SimpleUploadedFile(name, data, "text/csv")}
    )


def confirm(client, practice, digest=None):
    if digest is None:
        digest = client.session[manager_views.IMPORT_SESSION_KEY]["sha256"]
    return client.post(reverse("manager_import_confirm", args=[practice.slug]), {"sha256": digest})


def error_lines(html: str) -> list[tuple[str, str]]:
    """(code, line) for each row of the error report."""
    return re.findall(r'<tr class="import-error" data-code="([a-z_]+)"><td>(\d+)</td>', html)


@pytest.fixture
def manager(client, manager_a, clinician_a, clinician_a2):
    client.force_login(manager_a)
    return client


# --- who may use the tools ---------------------------------------------------------------------


PAGES = [
    ("get", "manager_import"),
    ("post", "manager_import"),
    ("post", "manager_import_confirm"),
    ("get", "manager_invitations"),
    ("get", "manager_cards"),
    ("post", "manager_cards"),
]


class TestAccess:
    @pytest.mark.parametrize("method, name", PAGES)
    def test_anonymous_visitors_are_sent_to_sign_in(self, client, practice_a, method, name):
        response = getattr(client, method)(reverse(name, args=[practice_a.slug]))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))

    @pytest.mark.parametrize("who", ["manager_b", "clinician_a", "clinician_b"])
    @pytest.mark.parametrize("method, name", PAGES)
    def test_it_checks_the_practice(self, client, request, practice_a, visit_a, method, name, who):
        client.force_login(request.getfixturevalue(who))
        data = {"file": SimpleUploadedFile("v.csv", GOOD), "date": visit_a.visit.date.isoformat(), "sha256": "0" * 64}
        response = getattr(client, method)(reverse(name, args=[practice_a.slug]), data if method == "post" else None)
        assert response.status_code == 404
        assert Visit.objects.count() == 1
        assert Invitation.objects.get(pk=factories.patient_invitation(visit_a).pk).token_hash == (
            hash_token(visit_a.patient_token)
        )

    def test_an_unknown_practice_is_404(self, manager):
        assert manager.get(reverse("manager_import", args=["nope"])).status_code == 404

    def test_a_manager_of_two_practices_can_use_both(self, client, manager_a, practice_b):
        services.add_member(practice_b, "mgr-a", "manager")
        client.force_login(manager_a)
        assert client.get(reverse("manager_invitations", args=[practice_b.slug])).status_code == 200


# --- import ------------------------------------------------------------------------------------


class TestImport:
    def test_the_upload_page_is_a_crispy_multipart_form(self, manager, practice_a):
        response = manager.get(reverse("manager_import", args=[practice_a.slug]))
        assert response.status_code == 200
        html = response.content.decode()
        assert 'enctype="multipart/form-data"' in html and 'name="file"' in html
        assert "csrfmiddlewaretoken" in html

    def test_preview_then_confirm_creates_visits_and_invitations_with_contact_details(self, manager, practice_a):
        preview = upload(manager, practice_a, GOOD)
        assert preview.status_code == 200
        html = preview.content.decode()
        assert "3 visits will be created" in html
        for ref in ("PA-001", "PA-002", "PA-003"):
            assert ref in html
        assert "ana@example.org" not in html  # the preview says a contact is there, not what it is
        assert not Visit.objects.exists()

        done = confirm(manager, practice_a)
        assert done.status_code == 200
        html = done.content.decode()
        assert "Created 3 visits." in html and "Skipped 0 duplicates" in html and "0 errors" in html
        cards = reverse("manager_cards", args=[practice_a.slug])
        assert f"{cards}?date=2025-03-04" in html and f"{cards}?date=2025-03-05" in html
        assert Visit.objects.filter(practice=practice_a).count() == 3
        assert Invitation.objects.filter(visit__practice=practice_a).count() == 6
        invitation = Invitation.objects.get(visit__dyad__patient__reference="PA-001", respondent="patient")
        assert invitation.contact_email == "ana@example.org" and invitation.visit.date == D1
        assert invitation.visit.dyad.clinician.username == "clin-a"
        invitation = Invitation.objects.get(visit__dyad__patient__reference="PA-002", respondent="patient")
        assert invitation.contact_phone == "+34 600 000 000"
        assert manager_views.IMPORT_SESSION_KEY not in manager.session
        event = AuditEvent.objects.get(action=Action.VISIT_IMPORT)
        assert (event.actor.username, event.practice_id) == ("mgr-a", practice_a.pk)
        assert event.detail["created"] == 3 and event.detail["errors"] == 0
        assert "example.org" not in str(event.detail) and "600" not in str(event.detail)

    def test_importing_the_same_file_twice_creates_nothing_new(self, manager, practice_a):
        upload(manager, practice_a, GOOD)
        confirm(manager, practice_a)
        preview = upload(manager, practice_a, GOOD)
        html = preview.content.decode()
        assert "There is nothing new to import" in html
        assert error_lines(html) == [("already_imported", "2"), ("already_imported", "3"), ("already_imported", "4")]
        done = confirm(manager, practice_a)
        assert done.status_code == 200
        assert "Created 0 visits." in done.content.decode() and "Skipped 3 duplicates" in done.content.decode()
        assert Visit.objects.count() == 3 and Invitation.objects.count() == 6

    def test_each_bad_row_is_reported_with_its_line_number(self, manager, practice_a, clinician_a, clinician_b):
        factories.visit(practice_a, clinician_a, "PA-O01", D1)
        data = (
            "date,clinician,patient,email,phone\n"
            "2025-03-04,clin-a,PA-K01,,\n"  # 2: good
            "2025-03-04,nobody,PA-1,,\n"  # 3: unknown clinician
            "2025-03-04,clin-b,PA-2,,\n"  # 4: clinician of another practice
            "2025-03-04,mgr-a,PA-3,,\n"  # 5: in the practice, not a clinician
            "04/03/2025,clin-a,PA-4,,\n"  # 6: bad date
            "2025-03-04,clin-a,,,\n"  # 7: missing patient
            "2025-03-04,clin-a,PA-5,not-an-email,\n"  # 8: bad email
            "2025-03-04,clin-a,PA-K01,,\n"  # 9: duplicate of line 2
            "2025-03-04,clin-a,PA-O01,,\n"  # 10: already imported
        ).encode()
        response = upload(manager, practice_a, data)
        assert response.status_code == 200
        html = response.content.decode()
        assert error_lines(html) == [
            ("unknown_clinician", "3"),
            ("unknown_clinician", "4"),
            ("not_clinician", "5"),
            ("bad_date", "6"),
            ("missing_patient", "7"),
            ("bad_email", "8"),
            ("duplicate", "9"),
            ("already_imported", "10"),
        ]
        assert "1 visit will be created" in html and "8 rows will not be imported" in html
        assert "not a date written as YYYY-MM-DD" in html and "Same clinician, patient and date as line 2" in html
        done = confirm(manager, practice_a)
        assert "Created 1 visit." in done.content.decode()
        assert "Skipped 1 duplicate " in done.content.decode() and "7 errors" in done.content.decode()
        assert Visit.objects.count() == 2

    @pytest.mark.parametrize(
        "data, message",
        [
            (b"date,clinician,patient\r\n" + b"x" * imports.MAX_BYTES, "larger than 2 MB"),
            ("date,clinician,patient\r\n2025-03-04,clin-a,PA-1\r\n".encode("utf-16"), "UTF-16"),
            (bytes(range(256)) * 8, "not UTF-8"),
            (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not UTF-8"),
            (b"PK\x03\x04\x14\x00\x06\x00\x08\x00", "spreadsheet file"),
            (b"date,clinician,patient\r\n2025-03-04,clin-a,PA\x00\x01\r\n", "binary data"),
            (b"", "empty"),
            (b"2025-03-04,clin-a,PA-001,,\r\n", "header row is missing"),
            (b"date,clinician,patient\r\n", "no visits"),
            (
                "date,clinician,patient\r\n" + "".join(f"2025-03-04,clin-a,P{i}\r\n" for i in range(5001)),
                "more than 5,000",
            ),
        ],
    )
    def test_a_bad_file_gets_a_clear_message_and_nothing_is_created(self, manager, practice_a, data, message):
        if isinstance(data, str):
            data = data.encode()
        response = upload(manager, practice_a, data)
        assert response.status_code == 400
        assert message in response.content.decode()
        assert not Visit.objects.exists()
        assert manager_views.IMPORT_SESSION_KEY not in manager.session

    def test_a_post_without_a_file_is_400(self, manager, practice_a):
        response = manager.post(reverse("manager_import", args=[practice_a.slug]))
        assert response.status_code == 400
        assert b"This field is required" in response.content

    def test_confirm_without_a_preview_is_refused(self, manager, practice_a):
        response = confirm(manager, practice_a, digest="0" * 64)
        assert response.status_code == 400
        assert b"no preview to confirm" in response.content
        assert not Visit.objects.exists()

    def test_confirm_of_a_preview_replaced_by_another_upload_is_refused(self, manager, practice_a):
        upload(manager, practice_a, GOOD)
        first = manager.session[manager_views.IMPORT_SESSION_KEY]["sha256"]
        upload(manager, practice_a, GOOD.replace(b"PA-003", b"PA-009"))
        assert confirm(manager, practice_a, digest=first).status_code == 400
        assert not Visit.objects.exists()

    def test_a_preview_is_confirmed_only_in_its_own_practice(self, client, manager_a, practice_a, practice_b, clinician_a, clinician_a2):
        services.add_member(practice_b, "mgr-a", "manager")
        client.force_login(manager_a)
        upload(client, practice_a, GOOD)
        assert confirm(client, practice_b).status_code == 400
        assert not Visit.objects.exists()

    def test_confirming_twice_creates_once(self, manager, practice_a):
        upload(manager, practice_a, GOOD)
        digest = manager.session[manager_views.IMPORT_SESSION_KEY]["sha256"]
        confirm(manager, practice_a, digest)
        assert confirm(manager, practice_a, digest).status_code == 400
        assert Visit.objects.count() == 3

    def test_confirm_needs_post_and_csrf(self, manager_a, practice_a, clinician_a, clinician_a2):
        strict = Client(enforce_csrf_checks=True)
        strict.force_login(manager_a)
        assert strict.get(reverse("manager_import_confirm", args=[practice_a.slug])).status_code == 405
        assert strict.post(reverse("manager_import_confirm", args=[practice_a.slug]), {"sha256": "0" * 64}).status_code == 403


# --- invitations list --------------------------------------------------------------------------


class TestInvitations:
    def url(self, practice, **params):
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return reverse("manager_invitations", args=[practice.slug]) + (f"?{query}" if query else "")

    @pytest.fixture
    def waves(self, practice_a, clinician_a, clinician_b, practice_b):
        waves = {
            "open": factories.visit(practice_a, clinician_a, "PA-open", D1),
            "opened": factories.visit(practice_a, clinician_a, "PA-opened", D2),
            "completed": factories.visit(practice_a, clinician_a, "PA-completed", D1),
            "expired": factories.visit(practice_a, clinician_a, "PA-expired", dt.date(2025, 2, 1)),
        }
        factories.visit(practice_b, clinician_b, "PB-other", D1)
        services.mark_opened(factories.patient_invitation(waves["opened"]))
        invitation = factories.patient_invitation(waves["completed"])
        services.submit_response(invitation, factories.full_answers(invitation))
        Invitation.objects.filter(pk=factories.patient_invitation(waves["expired"]).pk).update(
            expires_at=timezone.now() - dt.timedelta(minutes=1)
        )
        return waves

    def rows(self, response) -> list[tuple[str, str]]:
        html = response.content.decode()
        return re.findall(r'<tr class="invitation" data-status="(\w+)">\s*<td>[^<]*</td>\s*<td>[^<]*</td>\s*<td>([^<]*)</td>', html)

    def test_it_lists_the_practices_patient_invitations_newest_visit_first_with_status(self, manager, practice_a, waves):
        response = manager.get(self.url(practice_a))
        assert response.status_code == 200
        assert self.rows(response) == [
            ("opened", "PA-opened"),
            ("completed", "PA-completed"),
            ("open", "PA-open"),
            ("expired", "PA-expired"),
        ]
        assert b"PB-other" not in response.content
        assert b"clin-a" in response.content

    @pytest.mark.parametrize("status", ["open", "opened", "completed", "expired"])
    def test_it_filters_by_status(self, manager, practice_a, waves, status):
        assert self.rows(manager.get(self.url(practice_a, status=status))) == [(status, f"PA-{status}")]

    def test_it_filters_by_visit_date(self, manager, practice_a, waves):
        rows = self.rows(manager.get(self.url(practice_a, start="2025-03-01", end="2025-03-04")))
        assert sorted(ref for _, ref in rows) == ["PA-completed", "PA-open"]
        assert [ref for _, ref in self.rows(manager.get(self.url(practice_a, start="2025-03-05")))] == ["PA-opened"]

    def test_a_bad_filter_says_so(self, manager, practice_a, waves):
        response = manager.get(self.url(practice_a, status="lost", start="yesterday"))
        assert response.status_code == 400
        assert b"Select a valid choice" in response.content and b"Enter a valid date" in response.content
        response = manager.get(self.url(practice_a, start="2025-03-05", end="2025-03-01"))
        assert b"must be on or after the start date" in response.content

    def test_it_pages_by_50_and_keeps_the_filter(self, manager, practice_a, clinician_a):
        for i in range(51):
            factories.visit(practice_a, clinician_a, f"PA-{i:03}", D1)
        first = manager.get(self.url(practice_a, status="open"))
        assert len(self.rows(first)) == 50
        assert "?status=open&amp;page=2" in first.content.decode()
        second = manager.get(self.url(practice_a, status="open", page=2))
        assert len(self.rows(second)) == 1
        assert manager.get(self.url(practice_a, page=99)).status_code == 200

    def test_the_query_count_does_not_grow_with_the_rows(self, manager, practice_a, clinician_a, clinician_a2, django_assert_max_num_queries):
        factories.visit(practice_a, clinician_a, "PA-first", D1)
        with django_assert_max_num_queries(8) as few:
            manager.get(self.url(practice_a))
        for i in range(60):
            factories.visit(practice_a, clinician_a if i % 2 else clinician_a2, f"PA-{i}", D1 + dt.timedelta(days=i % 7))
        with django_assert_max_num_queries(len(few.captured_queries)):
            response = manager.get(self.url(practice_a))
        assert len(self.rows(response)) == 50


# --- QR cards ----------------------------------------------------------------------------------


CARD = re.compile(r'<p class="qr-card-ref">Patient <strong>([^<]+)</strong></p>.*?<p class="qr-card-link">([^<]+)</p>', re.S)


def card_path(printed: str) -> str:
    """The path of the short address a card prints for typing (host/q/ABCD-EFGH-JKMN, without the scheme)."""
    return "/" + printed.split("/", 1)[1]


class TestCards:
    def url(self, practice):
        return reverse("manager_cards", args=[practice.slug])

    @pytest.fixture
    def day(self, practice_a, clinician_a):
        day = {ref: factories.visit(practice_a, clinician_a, ref, D1) for ref in ("PA-1", "PA-2", "PA-used", "PA-expired")}
        invitation = factories.patient_invitation(day["PA-used"])
        services.submit_response(invitation, factories.full_answers(invitation))
        Invitation.objects.filter(pk=factories.patient_invitation(day["PA-expired"]).pk).update(expires_at=timezone.now())
        day["other-day"] = factories.visit(practice_a, clinician_a, "PA-3", D2)
        return day

    def test_get_shows_how_many_cards_and_warns_about_old_links(self, manager, practice_a, day):
        response = manager.get(self.url(practice_a), {"date": "2025-03-04"})
        assert response.status_code == 200
        html = response.content.decode()
        assert "2 cards will be printed for 2025-03-04" in html
        assert "keep working" in html
        assert 'name="csrfmiddlewaretoken"' in html
        # Looking changes nothing.
        assert selectors.invitation_for_token(day["PA-1"].patient_token) is not None

    def test_get_defaults_to_today(self, manager, practice_a, clinician_a):
        factories.visit(practice_a, clinician_a, "PA-today")
        response = manager.get(self.url(practice_a))
        assert "1 card will be printed" in response.content.decode()

    def test_a_bad_date_is_400(self, manager, practice_a):
        assert manager.get(self.url(practice_a), {"date": "soon"}).status_code == 400
        assert manager.post(self.url(practice_a), {"date": "soon"}).status_code == 400

    def test_post_prints_one_card_per_open_visit(self, client, manager, practice_a, day,
                                                                        clinician_a):
        response = manager.post(self.url(practice_a), {"date": "2025-03-04"})
        assert response.status_code == 200
        html = response.content.decode()
        cards = dict(CARD.findall(html))
        assert sorted(cards) == ["PA-1", "PA-2"]
        assert html.count('<svg width="') == 2 and html.count('class="qr-card"') == 2
        assert practice_a.name in html and "2025-03-04" in html
        # The card names the clinician and asks about the relationship, with the time this practice's patients take.
        name = clinician_a.get_full_name() or clinician_a.get_username()
        assert f"How is your relationship with {name}?" in html and f"¿Cómo es su relación con {name}?" in html
        assert re.search(r"about \d+ minutes", html) and "How was your visit" not in html
        for ref in ("PA-1", "PA-2"):
            # The link made with the visit (and perhaps already sent or printed) keeps working beside the card's.
            old = client.get(reverse("patient_questionnaire", args=[day[ref].patient_token]))
            assert old.status_code == 200 and b'name="P01"' in old.content
            assert re.fullmatch(r"127\.0\.0\.1:8000/q/[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", cards[ref])
            opened = client.get(card_path(cards[ref]))
            assert opened.status_code == 200 and b'name="P01"' in opened.content
        event = AuditEvent.objects.get(action=Action.CARDS_PRINTED)
        assert event.detail == {"date": "2025-03-04", "cards": 2} and event.practice_id == practice_a.pk
        # Used, expired and other days' invitations keep their link and get no card.
        for ref in ("PA-used", "PA-expired", "other-day"):
            assert Invitation.objects.get(pk=factories.patient_invitation(day[ref]).pk).token_hash == hash_token(
                day[ref].patient_token
            )

    def test_reprinting_a_day_never_voids_the_cards_already_handed_out(self, client, manager, practice_a, day):
        """Issue 14: reprinting silently voided the links already printed, and the patient lost their draft."""
        first = dict(CARD.findall(manager.post(self.url(practice_a), {"date": "2025-03-04"}).content.decode()))
        second = dict(CARD.findall(manager.post(self.url(practice_a), {"date": "2025-03-04"}).content.decode()))
        assert sorted(first) == sorted(second) == ["PA-1", "PA-2"]
        assert first["PA-1"] != second["PA-1"]
        for printed in (first, second):
            for ref in ("PA-1", "PA-2"):
                opened = client.get(card_path(printed[ref]))
                assert opened.status_code == 200 and b'name="P01"' in opened.content
        assert selectors.invitation_for_token(day["PA-1"].patient_token) is not None

    def test_any_card_of_an_invitation_answers_it_once(self, client, manager, practice_a, day):
        first = dict(CARD.findall(manager.post(self.url(practice_a), {"date": "2025-03-04"}).content.decode()))
        second = dict(CARD.findall(manager.post(self.url(practice_a), {"date": "2025-03-04"}).content.decode()))
        invitation = selectors.invitation_for_short_code(second["PA-1"].rsplit("/q/", 1)[1])
        services.submit_response(invitation, factories.full_answers(invitation))
        for printed in (first, second):
            used = client.get(card_path(printed["PA-1"]))
            assert used.status_code == 409
        assert client.get(reverse("patient_questionnaire", args=[day["PA-1"].patient_token])).status_code == 409

    def test_card_addresses_use_the_site_url(self, manager, practice_a, day, settings):
        settings.SITE_URL = "https://healing.example.org"
        html = manager.post(self.url(practice_a), {"date": "2025-03-04"}).content.decode()
        assert all(link.startswith("healing.example.org/q/") for _, link in CARD.findall(html))

    def test_the_printed_page_is_never_cached_nor_sent_as_referrer(self, manager, practice_a, day):
        response = manager.post(self.url(practice_a), {"date": "2025-03-04"})
        assert "no-store" in response["Cache-Control"]
        assert response["Referrer-Policy"] == "no-referrer"

    def test_the_picker_page_lets_browsers_send_their_origin_with_the_post(self, manager, practice_a, day):
        # Under no-referrer a browser posts the form with `Origin: null`, which CSRF refuses.
        response = manager.get(self.url(practice_a), {"date": "2025-03-04"})
        assert response.get("Referrer-Policy") != "no-referrer"

    def test_a_browser_like_post_with_token_and_origin_works(self, manager_a, practice_a, day):
        browser = Client(enforce_csrf_checks=True)
        browser.force_login(manager_a)
        browser.get(self.url(practice_a), {"date": "2025-03-04"})
        token = browser.cookies["csrftoken"].value
        response = browser.post(
            self.url(practice_a), {"date": "2025-03-04", "csrfmiddlewaretoken": token}, HTTP_ORIGIN="http://testserver"
        )
        assert response.status_code == 200 and len(CARD.findall(response.content.decode())) == 2

    def test_the_printed_page_has_no_inline_script_or_style(self, manager, practice_a, day):
        html = manager.post(self.url(practice_a), {"date": "2025-03-04"}).content.decode()
        assert "style=" not in html and "<style" not in html
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
        assert re.search(r" on[a-z]+=", html) is None
        assert "css/cards.css" in html

    def test_a_day_without_open_invitations_prints_nothing(self, manager, practice_a, day):
        response = manager.post(self.url(practice_a), {"date": "2025-01-01"})
        assert response.status_code == 200
        assert b"nothing to print" in response.content

    def test_printing_needs_the_csrf_token(self, manager_a, practice_a, day):
        strict = Client(enforce_csrf_checks=True)
        strict.force_login(manager_a)
        assert strict.post(self.url(practice_a), {"date": "2025-03-04"}).status_code == 403
        assert selectors.invitation_for_token(day["PA-1"].patient_token) is not None
