"""Arbitrary POST bodies against the questionnaire views (docs/security.md): never a 500, never a partial response,
always a page that says what to do.

Hypothesis sends: forms built around the real item codes with random extra fields and values (huge, empty,
non-ASCII), raw bytes as form-urlencoded or multipart (non-UTF-8 included), and wrong or broken content types.
Each example runs in its own rolled-back transaction (hypothesis.extra.django.TestCase), so every example
meets an open questionnaire. After each: a 302 saved exactly one complete response (all answers, all domain
scores); anything else saved nothing and answered 4xx with an HTML page.
"""

from __future__ import annotations

from urllib.parse import quote_from_bytes, urlencode

from django.test import Client, override_settings
from django.urls import reverse
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from surveys.models import Answer, DomainScore, Invitation, Response
from surveys.services import load_instruments
from tests import factories

EXAMPLES = 120
# differing_executors: the patient and clinician classes share these methods on purpose; an example saved
# by one replays harmlessly against the other.
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors],
)

VALUES = st.one_of(
    st.sampled_from(["1", "2", "3", "4", "5", "na"]),
    st.sampled_from(["", "0", "6", "-1", "3.0", " 3", "٣", "NA", "null", "[]", "3\x00", "1e3", "99999999999999999999"]),
    st.text(max_size=40),
    st.integers(min_value=1000, max_value=20_000).map(lambda n: "x" * n),  # long enough to matter
)
NAMES = st.one_of(st.text(min_size=1, max_size=30), st.sampled_from(["comment", "lang", "csrfmiddlewaretoken", "P01[]"]))
CONTENT_TYPES = st.one_of(
    st.sampled_from(
        [
            "application/x-www-form-urlencoded",
            "application/x-www-form-urlencoded; charset=latin-1",
            "application/x-www-form-urlencoded; charset=nonsense",
            "multipart/form-data; boundary=fuzzboundary",
            "multipart/form-data",  # no boundary
            "multipart/form-data; boundary=",
            "application/json",
            "text/plain",
            "application/octet-stream",
            "",
        ]
    ),
    st.text(max_size=60),
)


@st.composite
def forms(draw, codes):
    """A form near the real one: each item answered or not, some values wrong, random extra fields; a third
    of the time a complete, valid form with at most one change, so the success path gets fuzzed too."""
    if draw(st.integers(0, 2)) == 0:
        form = {code: draw(st.sampled_from(["1", "2", "3", "4", "5"])) for code in codes}
        change = draw(st.sampled_from(["none", "value", "drop", "extra", "comment"]))
        if change == "value":
            form[draw(st.sampled_from(codes))] = draw(VALUES)
        elif change == "drop":
            del form[draw(st.sampled_from(codes))]
        elif change == "extra":
            form[draw(NAMES)] = draw(VALUES)
        elif change == "comment":
            form["comment"] = draw(VALUES)
        return form
    form = {}
    for code in codes:
        if draw(st.booleans()) or draw(st.booleans()):
            form[code] = draw(VALUES) if draw(st.integers(0, 9)) == 0 else draw(st.sampled_from(["1", "2", "3", "4", "5"]))
    form.update(draw(st.dictionaries(NAMES, VALUES, max_size=6)))
    if draw(st.booleans()):
        form["comment"] = draw(VALUES)
    if draw(st.booleans()):
        form["lang"] = draw(st.sampled_from(["en", "es", "fr", "", "es-MX", "\u00e9"]))
    return form


@st.composite
def multipart(draw, codes):
    """A multipart body by hand: parts with random names and raw (possibly non-UTF-8) bytes, maybe truncated."""
    parts = []
    for _ in range(draw(st.integers(0, 8))):
        name = draw(st.one_of(st.sampled_from(codes + ["comment", "lang"]), st.text(max_size=10)))
        value = draw(st.one_of(st.binary(max_size=200), st.sampled_from([b"3", b"na", b"\xff\xfe", b"\xc3\x28"])))
        disposition = f'form-data; name="{name}"'
        if draw(st.booleans()) and draw(st.booleans()):
            disposition += '; filename="x.bin"'
        parts.append(b"--fuzzboundary\r\nContent-Disposition: " + disposition.encode("utf-8", "surrogatepass") + b"\r\n\r\n" + value + b"\r\n")
    body = b"".join(parts) + (b"--fuzzboundary--\r\n" if draw(st.booleans()) else b"")
    if draw(st.booleans()):
        body = body[: draw(st.integers(0, max(len(body), 0)))]
    return body


def urlencoded_bytes(pairs: list[tuple[bytes, bytes]]) -> bytes:
    return "&".join(f"{quote_from_bytes(k)}={quote_from_bytes(v)}" for k, v in pairs).encode("ascii")


RAW_FORM = st.lists(st.tuples(st.binary(max_size=20), st.binary(max_size=60)), max_size=10).map(urlencoded_bytes)
RAW = st.one_of(st.binary(max_size=3000), RAW_FORM)


@override_settings(SURVEY_RATE_LIMIT="0", SURVEY_MISS_LIMIT="0")
class QuestionnaireFuzz(TestCase):
    """Shared by the patient and the clinician page: subclasses say which URL and client to use."""

    __test__ = False

    @classmethod
    def setUpTestData(cls):
        load_instruments()
        practice = factories.practice("f")
        cls.clinician = factories.member(practice, "clin-f", "clinician")
        cls.new_visit = factories.visit(practice, cls.clinician, "PF-001")
        cls.invitation = cls.new_visit.visit.invitations.get(respondent=cls.respondent)
        cls.codes = sorted(factories.full_answers(cls.invitation))
        cls.domain_count = cls.invitation.instrument_version.domains.count()

    def client_for(self) -> Client:
        return Client()

    def url(self) -> str:
        raise NotImplementedError

    def check(self, response, fuzzed=False):
        status = response.status_code
        if fuzzed:
            event(f"status {status}")  # --hypothesis-show-statistics shows what the bodies led to
        assert status < 500, status
        saved = list(Response.objects.all())
        if status == 302:
            assert len(saved) == 1
            response_row = saved[0]
            assert response_row.invitation_id == self.invitation.pk
            assert Answer.objects.filter(response=response_row).count() == len(self.codes)
            assert DomainScore.objects.filter(response=response_row).count() == self.domain_count
            assert Answer.objects.count() == len(self.codes)
            assert Invitation.objects.get(pk=self.invitation.pk).used_at is not None
        else:
            assert 400 <= status < 500, status
            assert saved == [] and not Answer.objects.exists() and not DomainScore.objects.exists()
            assert Invitation.objects.get(pk=self.invitation.pk).used_at is None
            assert response["Content-Type"].startswith("text/html")
            html = response.content.decode("utf-8")
            assert "<h1" in html, html[:500]
            if status == 400:
                # What to do next: the questionnaire with its errors listed (in either language), or the
                # "could not read" page.
                assert 'id="form-errors"' in html or 'data-error="400"' in html, html[:2000]
            elif status == 413:
                assert 'data-error="413"' in html

    @FUZZ
    @given(data=st.data())
    def test_form_bodies(self, data):
        form = data.draw(forms(self.codes))
        client = self.client_for()
        if data.draw(st.booleans()):
            response = client.post(self.url(), urlencode(form), content_type="application/x-www-form-urlencoded")
        else:
            response = client.post(self.url(), form)  # multipart, as the test client encodes it
        self.check(response, fuzzed=True)

    @FUZZ
    @given(body=RAW, content_type=CONTENT_TYPES)
    def test_raw_bodies(self, body, content_type):
        response = self.client_for().generic("POST", self.url(), data=body, content_type=content_type)
        self.check(response, fuzzed=True)

    @FUZZ
    @given(data=st.data())
    def test_multipart_bodies(self, data):
        body = data.draw(multipart(self.codes))
        response = self.client_for().generic("POST", self.url(), data=body, content_type="multipart/form-data; boundary=fuzzboundary")
        self.check(response, fuzzed=True)

    def test_a_valid_form_saves_one_complete_response(self):
        # The fuzzing's own control: the same checks pass for the success path.
        response = self.client_for().post(self.url(), {**factories.full_answers(self.invitation), "comment": "ok"})
        assert response.status_code == 302
        self.check(response)

    def test_an_oversized_body_is_refused_with_413(self):
        big = {**factories.full_answers(self.invitation), "comment": "x" * (2 * 1024 * 1024)}
        response = self.client_for().post(self.url(), urlencode(big), content_type="application/x-www-form-urlencoded")
        assert response.status_code == 413
        html = response.content.decode()
        assert "Too much was sent" in html and "Envío demasiado grande" in html
        self.check(response)

    def test_a_large_multipart_body_under_the_request_cap_is_refused_with_413(self):
        # Over DATA_UPLOAD_MAX_MEMORY_SIZE (1 MB of form fields) but under MAX_REQUEST_BODY_SIZE: Django's own
        # RequestDataTooBig, turned into the same 413 page by handler400.
        big = {**factories.full_answers(self.invitation), "comment": "x" * (1024 * 1024 + 10)}
        response = self.client_for().post(self.url(), big)
        assert response.status_code == 413
        self.check(response)

    def test_too_many_fields_are_refused_with_a_page(self):
        fields = "&".join(f"f{i}=1" for i in range(1200))
        response = self.client_for().post(self.url(), fields, content_type="application/x-www-form-urlencoded")
        assert response.status_code == 400
        assert "far more fields than it has" in response.content.decode()
        self.check(response)

    def test_a_broken_multipart_body_is_refused_with_a_page(self):
        response = self.client_for().generic("POST", self.url(), data=b"--x\r\nbroken", content_type="multipart/form-data; boundary=")
        assert response.status_code == 400
        self.check(response)


class TestPatientQuestionnaireFuzz(QuestionnaireFuzz):
    __test__ = True
    respondent = "patient"

    def url(self):
        return reverse("patient_questionnaire", args=[self.new_visit.patient_token])

    def test_a_post_without_the_csrf_token_gets_the_reload_page(self):
        client = Client(enforce_csrf_checks=True)
        response = client.post(self.url(), factories.full_answers(self.invitation), HTTP_ORIGIN="null")
        assert response.status_code == 403
        html = response.content.decode()
        assert "Please reload the page and send it again" in html and "Vuelva a cargar la página" in html
        self.check(response)


class TestClinicianQuestionnaireFuzz(QuestionnaireFuzz):
    __test__ = True
    respondent = "clinician"

    def client_for(self):
        client = Client()
        client.force_login(self.clinician)
        return client

    def url(self):
        return reverse("clinician_questionnaire", args=[self.new_visit.visit.pk])
