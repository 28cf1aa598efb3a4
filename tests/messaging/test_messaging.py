"""Invitations and reminders by email and SMS (messaging/): links made in the worker, sends that retry or fail
visibly, one reminder that stops once the questionnaire is done, and contact details that go nowhere.

Tasks run eagerly (in-process, as CELERY_TASK_ALWAYS_EAGER does) after commit; SMS goes to the in-memory
backend, or to a fake provider on 127.0.0.1 for the HTTP adapter.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re
import smtplib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import Action, AuditEvent
from healing.celery import app as celery_app
from messaging import selectors as messaging_selectors
from messaging import services, sms, tasks
from messaging.models import Channel, Kind, OutboundMessage, Status
from surveys import selectors
from surveys import services as survey_services
from surveys.models import Invitation
from surveys.tokens import hash_token
from tests import factories

EMAIL, PHONE = "pat.private@example.org", "+34 600 123 456"
LINK = re.compile(r"https?://[^/\s]+/s/([A-Za-z0-9_-]+)/")


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def sending(settings, eager_tasks):
    """Eager tasks, the in-memory SMS backend, a fixed site URL."""
    settings.SMS_BACKEND = "messaging.sms.LocmemSmsBackend"
    settings.SITE_URL = "https://healing.example"
    settings.INVITATION_REMINDER_DAYS = 3
    sms.outbox.clear()
    yield
    sms.outbox.clear()


def with_contact(new_visit, email=EMAIL, phone=PHONE) -> Invitation:
    invitation = factories.patient_invitation(new_visit)
    Invitation.objects.filter(pk=invitation.pk).update(contact_email=email, contact_phone=phone)
    invitation.refresh_from_db()
    return invitation


@pytest.fixture
def invitation(visit_a):
    return with_contact(visit_a)


def queue(practice, manager, invitations=None, **kwargs):
    kwargs.setdefault("scope", "one" if invitations is not None else "all_unsent")
    return services.queue_invites(practice, invitations, requested_by=manager, **kwargs)


@pytest.fixture
def send(django_capture_on_commit_callbacks, manager_a, practice_a):
    """Queue the link for some invitations and run the tasks after commit, as a worker would."""

    def run(*invitations, **kwargs):
        ids = [i.pk for i in invitations]
        with django_capture_on_commit_callbacks(execute=True):
            return queue(practice_a, manager_a, Invitation.objects.filter(pk__in=ids) if ids else None, **kwargs)

    return run


def tokens_in(text: str) -> list[str]:
    return LINK.findall(text)


def days_ago(days, now=None):
    return (now or timezone.now()) - dt.timedelta(days=days)


# --- sending -----------------------------------------------------------------------------------


class TestSending:
    def test_it_sends_the_link_by_email_and_sms_in_english_and_spanish(self, send, invitation, client):
        queued = send(invitation)
        assert (queued.invitations, queued.email, queued.sms) == (1, 1, 1)
        assert len(mail.outbox) == 1 and len(sms.outbox) == 1
        email = mail.outbox[0]
        assert email.to == [EMAIL]
        assert "questionnaire" in email.subject and "cuestionario" in email.subject
        assert "would like to know how your care is going" in email.body and "cómo va su atención" in email.body
        assert "visit" not in email.body and "consulta" not in email.body  # the form asks about the relationship
        assert "Practice A" in email.body
        assert email.extra_headers["Auto-Submitted"] == "auto-generated"
        to, body = sms.outbox[0]
        assert to == PHONE and "¿cómo va su atención?" in body and len(body) < 200
        email_token, = set(tokens_in(email.body))
        sms_token, = tokens_in(body)
        assert email_token != sms_token  # each message carries its own link
        for token in (email_token, sms_token):
            assert selectors.invitation_for_token(token).pk == invitation.pk
            response = client.get(reverse("patient_questionnaire", args=[token]))
            assert response.status_code == 200 and b'name="P01"' in response.content
        messages = OutboundMessage.objects.filter(invitation=invitation)
        assert {(m.channel, m.kind, m.status, m.attempts) for m in messages} == {
            (Channel.EMAIL, Kind.INVITE, Status.SENT, 1),
            (Channel.SMS, Kind.INVITE, Status.SENT, 1),
        }
        assert {m.token_hash for m in messages} == {hash_token(email_token), hash_token(sms_token)}
        assert all(m.sent_at and not m.last_error for m in messages)

    def test_the_time_promised_is_what_this_practices_patients_take(self, send, invitation, practice_a, clinician_a):
        """Issue 14: emails and SMS said "about 3 minutes" where the practice's median was 4.8 minutes."""
        for i, minutes in enumerate([4.5, 4.8, 6.0]):
            answered = factories.patient_invitation(factories.visit(practice_a, clinician_a, f"T-{i}"))
            started = timezone.now() - dt.timedelta(minutes=minutes)
            survey_services.submit_response(answered, factories.full_answers(answered), started_at=started)
        send(invitation)
        assert "about 5 minutes" in mail.outbox[0].body and "unos 5 minutos" in mail.outbox[0].body
        assert "3 minutes" not in mail.outbox[0].body
        _to, body = sms.outbox[0]
        assert "5-min questionnaire" in body and "Cuestionario de 5 min" in body

    def test_before_anyone_has_answered_the_time_is_the_default(self, send, invitation):
        send(invitation)
        assert "about 5 minutes" in mail.outbox[0].body

    def test_the_raw_token_is_never_stored_nor_put_in_a_broker_message(self, invitation, practice_a, manager_a, monkeypatch, django_capture_on_commit_callbacks):
        sent_args = []
        original = tasks.send_message.apply_async

        def spy(args=None, kwargs=None, **options):
            sent_args.append((args, kwargs))
            return original(args, kwargs, **options)

        monkeypatch.setattr(tasks.send_message, "apply_async", spy)
        with django_capture_on_commit_callbacks(execute=True):
            queue(practice_a, manager_a, Invitation.objects.filter(pk=invitation.pk))
        ids = sorted(OutboundMessage.objects.values_list("pk", flat=True))
        assert sorted(args[0] for args, _ in sent_args) == ids and all(len(args) == 1 and not kw for args, kw in sent_args)
        token = tokens_in(mail.outbox[0].body)[0]
        for message in OutboundMessage.objects.all():
            assert token not in json.dumps([str(v) for v in message.__dict__.values()])
        assert not Invitation.objects.filter(token_hash=token).exists()

    def test_many_messages_are_handed_to_the_workers_in_batches_of_ids(self, send, practice_a, clinician_a, monkeypatch):
        monkeypatch.setattr(services, "FAN_OUT_BATCH", 4)
        batches = []
        original = tasks.send_messages.apply_async

        def spy(args=None, kwargs=None, **options):
            batches.append(args[0])
            return original(args, kwargs, **options)

        monkeypatch.setattr(tasks.send_messages, "apply_async", spy)
        invitations = [with_contact(factories.visit(practice_a, clinician_a, f"PA-{i}"), phone="") for i in range(11)]
        assert send(*invitations).email == 11
        assert [len(batch) for batch in batches] == [4, 4, 3] and all(isinstance(pk, int) for b in batches for pk in b)
        assert len(mail.outbox) == 11 and set(OutboundMessage.objects.values_list("status", flat=True)) == {Status.SENT}

    def test_the_link_stays_single_use_and_expires_with_the_invitation(self, send, invitation, visit_a, client):
        send(invitation)
        email_token = tokens_in(mail.outbox[0].body)[0]
        sms_token = tokens_in(sms.outbox[0][1])[0]
        url = reverse("patient_questionnaire", args=[email_token])
        assert client.post(url, factories.full_answers(invitation)).status_code == 302
        for token in (email_token, sms_token, visit_a.patient_token):
            response = client.get(reverse("patient_questionnaire", args=[token]))
            assert response.status_code == 409  # "already completed", whichever link
        other = with_contact(factories.visit(invitation.visit.practice, invitation.visit.dyad.clinician, "PA-late"))
        send(other)
        Invitation.objects.filter(pk=other.pk).update(expires_at=timezone.now())
        assert client.get(reverse("patient_questionnaire", args=[tokens_in(mail.outbox[-1].body)[0]])).status_code == 410

    def test_the_link_opens_one_query(self, send, invitation, django_assert_num_queries):
        send(invitation)
        token = tokens_in(mail.outbox[0].body)[0]
        with django_assert_num_queries(1):
            assert selectors.invitation_for_token(token).pk == invitation.pk
        with django_assert_num_queries(1):
            assert selectors.invitation_for_token("x" * 43) is None

    def test_a_message_token_never_opens_a_clinician_questionnaire(self, visit_a):
        own = factories.clinician_invitation(visit_a)
        message = OutboundMessage.objects.create(invitation=own, channel=Channel.EMAIL, token_hash=hash_token("t" * 43))
        assert message.pk and selectors.invitation_for_token("t" * 43) is None

    def test_only_channels_with_contact_details_are_used(self, send, visit_a):
        invitation = with_contact(visit_a, phone="")
        queued = send(invitation)
        assert (queued.email, queued.sms) == (1, 0) and len(mail.outbox) == 1 and not sms.outbox

    def test_a_redelivered_task_sends_nothing_again(self, send, invitation):
        send(invitation)
        for message in OutboundMessage.objects.all():
            assert services.send_message(message.pk) == Status.SENT
            tasks.send_message.apply(args=[message.pk])
        assert len(mail.outbox) == 1 and len(sms.outbox) == 1
        assert set(OutboundMessage.objects.values_list("attempts", flat=True)) == {1}

    def test_an_attempt_claimed_by_another_worker_is_not_sent_twice(self, invitation, practice_a, manager_a, monkeypatch):
        queue(practice_a, manager_a, Invitation.objects.filter(pk=invitation.pk))  # no commit: nothing runs
        message = OutboundMessage.objects.get(channel=Channel.EMAIL)
        # Another worker claims the same attempt between our read and our claim.
        original = services._not_needed

        def meanwhile(*args):
            OutboundMessage.objects.filter(pk=message.pk).update(attempts=1)
            return original(*args)

        monkeypatch.setattr(services, "_not_needed", meanwhile)
        with pytest.raises(services.MessageBusy):
            services.send_message(message.pk)
        assert not mail.outbox

    def test_a_message_being_sent_waits_for_its_lease_and_a_dead_workers_lease_runs_out(self, invitation, practice_a, manager_a):
        queue(practice_a, manager_a, Invitation.objects.filter(pk=invitation.pk))  # no commit: nothing runs
        message = OutboundMessage.objects.get(channel=Channel.EMAIL)
        OutboundMessage.objects.filter(pk=message.pk).update(attempts=1, claimed_until=timezone.now() + dt.timedelta(seconds=60))
        with pytest.raises(services.MessageBusy) as busy:
            services.send_message(message.pk)
        assert 55 <= busy.value.seconds <= 62
        result = tasks.send_message.apply(args=[message.pk])  # eagerly: retries at once, so runs out of retries
        assert isinstance(result.result, services.MessageBusy)
        message.refresh_from_db()
        assert (message.status, message.last_error) == (Status.QUEUED, "")  # not marked failed: it is someone else's
        # The worker that held it died: once its lease has run out, the message goes.
        OutboundMessage.objects.filter(pk=message.pk).update(claimed_until=timezone.now() - dt.timedelta(seconds=1))
        assert services.send_message(message.pk) == Status.SENT
        message.refresh_from_db()
        assert (message.attempts, message.claimed_until, len(mail.outbox)) == (2, None, 1)

    def test_a_double_click_queues_one_message_per_channel(self, invitation, practice_a, manager_a):
        first = queue(practice_a, manager_a, Invitation.objects.filter(pk=invitation.pk))
        second = queue(practice_a, manager_a, Invitation.objects.filter(pk=invitation.pk))
        assert first.messages == 2 and second.messages == 0
        assert OutboundMessage.objects.filter(status=Status.QUEUED).count() == 2

    def test_the_database_allows_one_queued_message_per_channel(self, invitation):
        OutboundMessage.objects.create(invitation=invitation, channel=Channel.EMAIL)
        with pytest.raises(IntegrityError), transaction.atomic():
            OutboundMessage.objects.create(invitation=invitation, channel=Channel.EMAIL)

    def test_send_now_again_sends_a_new_link_and_the_old_one_keeps_working(self, send, invitation, client):
        send(invitation)
        send(invitation)
        first, second = (tokens_in(m.body)[0] for m in mail.outbox)
        assert first != second
        assert all(selectors.invitation_for_token(t).pk == invitation.pk for t in (first, second))

    def test_only_unsent_skips_sent_links_and_tries_failed_ones_again(self, send, practice_a, clinician_a, invitation):
        other = with_contact(factories.visit(practice_a, clinician_a, "PA-other"), phone="")
        send(invitation)
        OutboundMessage.objects.filter(channel=Channel.SMS).update(status=Status.FAILED, sent_at=None, last_error="x")
        assert messaging_selectors.unsent_invitations(practice_a).count() == 2
        queued = send(only_unsent=True)
        assert (queued.invitations, queued.email, queued.sms) == (2, 1, 1)  # other's email, invitation's SMS again
        assert messaging_selectors.unsent_invitations(practice_a).count() == 0
        assert send(only_unsent=True).messages == 0

    def test_answered_expired_foreign_and_contactless_invitations_get_nothing(self, send, practice_a, practice_b, clinician_a, clinician_b, invitation):
        answered = with_contact(factories.visit(practice_a, clinician_a, "PA-answered"))
        survey_services.submit_response(answered, factories.full_answers(answered))
        expired = with_contact(factories.visit(practice_a, clinician_a, "PA-expired"))
        Invitation.objects.filter(pk=expired.pk).update(expires_at=timezone.now())
        foreign = with_contact(factories.visit(practice_b, clinician_b, "PB-1"))
        bare = factories.patient_invitation(factories.visit(practice_a, clinician_a, "PA-bare"))
        clinician_own = factories.clinician_invitation(factories.visit(practice_a, clinician_a, "PA-c"))
        queued = send(answered, expired, foreign, bare, clinician_own)
        assert queued.messages == 0 and not mail.outbox and not OutboundMessage.objects.exists()

    def test_only_a_manager_of_the_practice_may_send(self, invitation, practice_a, clinician_a, manager_b):
        for user in (clinician_a, manager_b):
            with pytest.raises(services.MessagingError):
                queue(practice_a, user, Invitation.objects.filter(pk=invitation.pk))
        assert not OutboundMessage.objects.exists()

    def test_a_message_no_longer_needed_is_cancelled_not_sent(self, invitation, practice_a, manager_a, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks() as pending:
            queue(practice_a, manager_a, Invitation.objects.filter(pk=invitation.pk))
        survey_services.submit_response(invitation, factories.full_answers(invitation))  # answered on paper, say
        for callback in pending:
            callback()
        assert not mail.outbox and not sms.outbox
        assert set(OutboundMessage.objects.values_list("status", "last_error")) == {
            (Status.CANCELLED, "Not sent: the questionnaire was already answered.")
        }

    def test_contact_details_deleted_before_sending_cancel_the_message(self, invitation, practice_a, manager_a, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks() as pending:
            queue(practice_a, manager_a, Invitation.objects.filter(pk=invitation.pk))
        Invitation.objects.filter(pk=invitation.pk).update(contact_email="", contact_phone="")
        for callback in pending:
            callback()
        assert not mail.outbox and not sms.outbox
        assert set(OutboundMessage.objects.values_list("status", flat=True)) == {Status.CANCELLED}

    def test_the_send_request_is_audited_with_counts_only(self, send, invitation, manager_a, practice_a):
        send(invitation)
        event = AuditEvent.objects.get(action=Action.MESSAGES_QUEUED)
        assert event.actor_id == manager_a.pk and event.practice_id == practice_a.pk
        assert event.object_type == "surveys.Invitation" and event.object_id == str(invitation.pk)
        assert event.detail == {"kind": "invite", "scope": "one", "invitations": 1, "email": 1, "sms": 1}


# --- failures and retries ----------------------------------------------------------------------


class RefusingBackend(BaseEmailBackend):
    """An SMTP server that refuses the recipient and quotes the address back, as real ones do."""

    code = 550

    def send_messages(self, messages):
        raise smtplib.SMTPRecipientsRefused({m.to[0]: (self.code, f"<{m.to[0]}> no such user".encode()) for m in messages})


class GreylistingBackend(RefusingBackend):
    code = 451


class FlakyBackend(BaseEmailBackend):
    """Fails to connect the first `failures` times, then delivers to the test outbox."""

    failures = 1
    calls = 0

    def send_messages(self, messages):
        FlakyBackend.calls += 1
        if FlakyBackend.calls <= self.failures:
            raise ConnectionRefusedError(111, f"Connection refused while sending to {messages[0].to[0]}")
        mail.outbox.extend(messages)
        return len(messages)


class TestFailures:
    @pytest.fixture
    def email_only(self, visit_a):
        return with_contact(visit_a, phone="")

    def test_a_refused_address_fails_at_once_with_a_reason_that_does_not_quote_it(self, send, email_only, settings, caplog):
        settings.EMAIL_BACKEND = "tests.messaging.test_messaging.RefusingBackend"
        with caplog.at_level(logging.DEBUG):
            send(email_only)
        message = OutboundMessage.objects.get()
        assert (message.status, message.attempts) == (Status.FAILED, 1)
        assert message.last_error == "The mail server refused the address (SMTP 550)."
        assert EMAIL not in caplog.text and "pat.private" not in caplog.text

    def test_a_temporary_refusal_is_retried_then_marked_failed(self, send, email_only, settings, caplog):
        settings.EMAIL_BACKEND = "tests.messaging.test_messaging.GreylistingBackend"
        with caplog.at_level(logging.DEBUG):
            send(email_only)
        message = OutboundMessage.objects.get()
        assert message.status == Status.FAILED
        assert message.attempts == tasks.SendTask.max_retries + 1
        assert "SMTP 451" in message.last_error and EMAIL not in message.last_error
        assert EMAIL not in caplog.text

    def test_an_unreachable_mail_server_is_retried_until_it_works(self, send, email_only, settings, caplog):
        settings.EMAIL_BACKEND = "tests.messaging.test_messaging.FlakyBackend"
        FlakyBackend.calls, FlakyBackend.failures = 0, 2
        with caplog.at_level(logging.DEBUG):
            send(email_only)
        message = OutboundMessage.objects.get()
        assert (message.status, message.attempts, message.last_error) == (Status.SENT, 3, "")
        assert len(mail.outbox) == 1
        # Each attempt made a new link; only the one that went out opens the questionnaire.
        assert message.token_hash == hash_token(tokens_in(mail.outbox[0].body)[0])
        assert EMAIL not in caplog.text

    def test_the_reason_shows_while_retrying(self, email_only, practice_a, manager_a, settings):
        settings.EMAIL_BACKEND = "tests.messaging.test_messaging.GreylistingBackend"
        queue(practice_a, manager_a, Invitation.objects.filter(pk=email_only.pk))
        message = OutboundMessage.objects.get()
        with pytest.raises(services.TransientSendError):
            services.send_message(message.pk)
        message.refresh_from_db()
        assert (message.status, message.attempts) == (Status.QUEUED, 1) and "SMTP 451" in message.last_error
        (delivery,) = messaging_selectors.deliveries(messaging_selectors.with_messages(Invitation.objects.filter(pk=email_only.pk)).get())
        assert delivery.retrying

    def test_an_unexpected_error_fails_the_message_without_its_text(self, email_only, practice_a, manager_a, monkeypatch, django_capture_on_commit_callbacks):
        def broken(*args):
            raise ValueError(f"cannot send to {EMAIL}")

        monkeypatch.setattr(services, "_deliver", broken)
        with django_capture_on_commit_callbacks(execute=True):
            queue(practice_a, manager_a, Invitation.objects.filter(pk=email_only.pk))
        message = OutboundMessage.objects.get()
        assert message.status == Status.FAILED and message.last_error == "Not sent because of an internal error (ValueError)."


# --- SMS backends ------------------------------------------------------------------------------


class FakeProvider:
    """An SMS provider on 127.0.0.1: answers each POST with the next scripted status (then 200)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.script: list[int] = []
        self.delay = 0.0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                provider.requests.append({"headers": dict(self.headers), "json": json.loads(body), "path": self.path})
                time.sleep(provider.delay)
                status = provider.script.pop(0) if provider.script else 200
                payload = json.dumps({"id": "m-1"} if status < 400 else {"error": f"bad number {PHONE}"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1/messages"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def provider(settings):
    with FakeProvider() as fake:
        settings.SMS_BACKEND = "messaging.sms.HttpSmsBackend"
        settings.SMS_HTTP_URL = fake.url
        settings.SMS_HTTP_TOKEN = "provider-secret"
        settings.SMS_HTTP_TIMEOUT = 2
        yield fake


class TestSmsBackends:
    def test_the_console_backend_is_the_default_and_masks_the_number(self, settings):
        settings.SMS_BACKEND = "messaging.sms.ConsoleSmsBackend"
        backend = sms.get_backend()
        assert isinstance(backend, sms.ConsoleSmsBackend)
        backend.stream = io.StringIO()
        backend.send(PHONE, "Hello https://healing.example/s/abc/")
        printed = backend.stream.getvalue()
        assert "Hello https://healing.example/s/abc/" in printed and "56" in printed
        assert "600 123" not in printed and "600123" not in printed

    def test_the_http_backend_posts_json_with_a_bearer_token(self, provider):
        sms.get_backend().send(PHONE, "Hola")
        (request,) = provider.requests
        assert request["path"] == "/v1/messages" and request["json"] == {"to": PHONE, "body": "Hola"}
        assert request["headers"]["Authorization"] == "Bearer provider-secret"
        assert request["headers"]["Content-Type"] == "application/json"

    @pytest.mark.parametrize("status", [500, 502, 503, 429])
    def test_server_errors_are_transient(self, provider, status):
        provider.script = [status]
        with pytest.raises(sms.TransientSendError, match=f"HTTP {status}") as caught:
            sms.get_backend().send(PHONE, "Hola")
        assert PHONE not in str(caught.value)

    @pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
    def test_client_errors_are_permanent_and_do_not_quote_the_reply(self, provider, status):
        provider.script = [status]
        with pytest.raises(sms.PermanentSendError, match=f"HTTP {status}") as caught:
            sms.get_backend().send(PHONE, "Hola")
        assert PHONE not in str(caught.value) and "bad number" not in str(caught.value)

    def test_a_slow_provider_is_a_transient_timeout(self, provider, settings):
        settings.SMS_HTTP_TIMEOUT = 0.2
        provider.delay = 1
        with pytest.raises(sms.TransientSendError, match="did not answer"):
            sms.get_backend().send(PHONE, "Hola")

    def test_an_unreachable_provider_is_transient(self, settings):
        with FakeProvider() as gone:
            url = gone.url
        settings.SMS_HTTP_URL, settings.SMS_HTTP_TOKEN = url, "x"
        with pytest.raises(sms.TransientSendError, match="Could not reach"):
            sms.HttpSmsBackend().send(PHONE, "Hola")

    @pytest.mark.parametrize("url", ["", "http://sms.example.com/send", "ftp://127.0.0.1/x"])
    def test_it_needs_https_except_on_loopback(self, url):
        with pytest.raises(ImproperlyConfigured):
            sms.HttpSmsBackend(url=url, token="x", timeout=1)
        assert sms.HttpSmsBackend(url="https://sms.example.com/send", token="x", timeout=1)
        assert sms.HttpSmsBackend(url="http://[::1]:8080/send", token="x", timeout=1)

    def test_a_503_then_200_is_retried_and_sent(self, provider, send, visit_a):
        invitation = with_contact(visit_a, email="")
        provider.script = [503]
        send(invitation)
        message = OutboundMessage.objects.get()
        assert (message.status, message.attempts, message.last_error) == (Status.SENT, 2, "")
        first, second = (tokens_in(r["json"]["body"])[0] for r in provider.requests)
        assert first != second
        assert selectors.invitation_for_token(first) is None  # that attempt's link was never delivered
        assert selectors.invitation_for_token(second).pk == invitation.pk
        assert all(r["json"]["to"] == PHONE for r in provider.requests)

    def test_a_400_fails_at_once_and_shows_on_the_list(self, provider, send, visit_a, client, manager_a, practice_a, caplog):
        invitation = with_contact(visit_a, email="")
        provider.script = [400]
        with caplog.at_level(logging.DEBUG):
            send(invitation)
        message = OutboundMessage.objects.get()
        assert (message.status, message.attempts) == (Status.FAILED, 1) and len(provider.requests) == 1
        assert message.last_error == "The SMS provider refused the message (HTTP 400)."
        assert PHONE not in caplog.text and "provider-secret" not in caplog.text
        client.force_login(manager_a)
        html = client.get(reverse("manager_invitations", args=[practice_a.slug])).content.decode()
        assert 'data-channel="sms" data-status="failed"' in html and "refused the message (HTTP 400)" in html
        assert PHONE not in html


# --- reminders ---------------------------------------------------------------------------------


class TestReminders:
    @pytest.fixture
    def sent(self, send, invitation):
        """The invitation's link went out by email and SMS four days ago."""
        send(invitation)
        OutboundMessage.objects.update(sent_at=days_ago(4))
        mail.outbox.clear()
        sms.outbox.clear()
        return invitation

    @pytest.fixture
    def sweep(self, django_capture_on_commit_callbacks):
        def run(now=None):
            with django_capture_on_commit_callbacks(execute=True):
                return services.queue_reminders(now)

        return run

    def test_one_reminder_by_the_same_channels_after_the_set_days(self, sent, sweep, client):
        queued = sweep()
        assert (queued.invitations, queued.email, queued.sms) == (1, 1, 1)
        assert "Reminder" in mail.outbox[0].subject and "Recordatorio" in mail.outbox[0].subject
        assert "reminder" in sms.outbox[0][1]
        reminders = OutboundMessage.objects.filter(kind=Kind.REMINDER)
        assert {(m.channel, m.status) for m in reminders} == {(Channel.EMAIL, Status.SENT), (Channel.SMS, Status.SENT)}
        token = tokens_in(mail.outbox[0].body)[0]
        assert client.get(reverse("patient_questionnaire", args=[token])).status_code == 200
        event = AuditEvent.objects.get(action=Action.MESSAGES_QUEUED, detail__kind="reminder")
        assert event.actor_name == "scheduled task" and event.detail["invitations"] == 1

    def test_never_more_than_one_reminder(self, sent, sweep):
        sweep()
        assert sweep().messages == 0
        OutboundMessage.objects.filter(kind=Kind.REMINDER).update(status=Status.FAILED, sent_at=None)
        assert sweep(timezone.now() + dt.timedelta(days=5)).messages == 0
        assert OutboundMessage.objects.filter(kind=Kind.REMINDER).count() == 2

    def test_the_database_allows_one_reminder_per_channel(self, sent):
        OutboundMessage.objects.create(invitation=sent, channel=Channel.SMS, kind=Kind.REMINDER, status=Status.FAILED)
        with pytest.raises(IntegrityError), transaction.atomic():
            OutboundMessage.objects.create(invitation=sent, channel=Channel.SMS, kind=Kind.REMINDER)

    def test_a_used_invitation_is_never_reminded(self, sent, sweep):
        survey_services.submit_response(sent, factories.full_answers(sent))
        assert sweep().messages == 0
        assert not mail.outbox and not OutboundMessage.objects.filter(kind=Kind.REMINDER).exists()

    def test_a_reminder_queued_before_the_answer_is_not_sent(self, sent, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks() as pending:
            services.queue_reminders()
        survey_services.submit_response(sent, factories.full_answers(sent))
        for callback in pending:
            callback()
        assert not mail.outbox and not sms.outbox
        assert set(OutboundMessage.objects.filter(kind=Kind.REMINDER).values_list("status", flat=True)) == {Status.CANCELLED}

    def test_not_before_the_set_days_and_the_wait_restarts_with_a_new_send(self, sent, sweep, send, settings):
        assert sweep(days_ago(2)).messages == 0  # as if the sweep ran two days ago: one day after sending
        settings.INVITATION_REMINDER_DAYS = 5
        assert sweep().messages == 0
        settings.INVITATION_REMINDER_DAYS = 3
        send(sent)  # the manager sends the link again today
        assert sweep().messages == 0
        assert sweep(timezone.now() + dt.timedelta(days=3, minutes=1)).messages == 2

    def test_expired_invitations_and_failed_channels_are_not_reminded(self, sent, sweep, practice_a, clinician_a, send):
        OutboundMessage.objects.filter(channel=Channel.SMS).update(status=Status.FAILED, sent_at=None)
        other = with_contact(factories.visit(practice_a, clinician_a, "PA-exp"))
        send(other)
        OutboundMessage.objects.filter(invitation=other).update(sent_at=days_ago(4))
        Invitation.objects.filter(pk=other.pk).update(expires_at=timezone.now())
        queued = sweep()
        assert (queued.invitations, queued.email, queued.sms) == (1, 1, 0)

    def test_zero_days_turns_reminders_off(self, sent, sweep, settings):
        settings.INVITATION_REMINDER_DAYS = 0
        assert sweep().messages == 0

    def test_the_beat_task_sweeps_hourly_on_the_messages_queue(self, sent, settings, django_capture_on_commit_callbacks):
        entry = settings.CELERY_BEAT_SCHEDULE["invitation-reminders"]
        assert entry["task"] == "messaging.tasks.queue_reminders"
        assert entry["schedule"].minute == {5} and len(entry["schedule"].hour) == 24
        with django_capture_on_commit_callbacks(execute=True):
            assert tasks.queue_reminders.apply().get() == 2
        assert len(mail.outbox) == 1 and len(sms.outbox) == 1


# --- lost tasks --------------------------------------------------------------------------------


class TestLostTasks:
    def test_a_broker_outage_does_not_fail_the_request_and_the_sweep_sends_later(self, invitation, practice_a, manager_a, monkeypatch, django_capture_on_commit_callbacks, caplog):
        def down(*args, **kwargs):
            raise OSError("broker unreachable")

        with monkeypatch.context() as patch:
            patch.setattr(tasks.send_message, "delay", down)
            with django_capture_on_commit_callbacks(execute=True):
                queued = queue(practice_a, manager_a, Invitation.objects.filter(pk=invitation.pk))
        assert queued.messages == 2 and "the hourly sweep will queue them again" in caplog.text
        assert set(OutboundMessage.objects.values_list("status", flat=True)) == {Status.QUEUED}
        assert services.requeue_stale() == 0  # too recent: its task may just be late
        later = timezone.now() + services.STALE_AFTER + dt.timedelta(minutes=1)
        with django_capture_on_commit_callbacks(execute=True):
            assert services.requeue_stale(later) == 2
        assert set(OutboundMessage.objects.values_list("status", flat=True)) == {Status.SENT}
        assert len(mail.outbox) == 1 and len(sms.outbox) == 1

    def test_the_hourly_task_requeues_stale_messages_but_not_leased_ones(self, invitation, practice_a, manager_a):
        queue(practice_a, manager_a, Invitation.objects.filter(pk=invitation.pk))  # no commit: tasks never sent
        OutboundMessage.objects.update(created_at=timezone.now() - dt.timedelta(hours=2))
        OutboundMessage.objects.filter(channel=Channel.SMS).update(attempts=1, claimed_until=timezone.now() + dt.timedelta(minutes=4))
        tasks.queue_reminders.apply()
        assert dict(OutboundMessage.objects.values_list("channel", "status")) == {
            Channel.EMAIL: Status.SENT,
            Channel.SMS: Status.QUEUED,
        }


# --- settings ----------------------------------------------------------------------------------


def test_sending_runs_on_its_own_queue(settings):
    assert "messages" in {queue.name for queue in settings.CELERY_TASK_QUEUES}
    router = celery_app.amqp.router
    for name in ("messaging.tasks.send_message", "messaging.tasks.send_messages", "messaging.tasks.queue_reminders"):
        assert router.route({}, name)["queue"].name == "messages"
    assert tasks.send_message.acks_late and tasks.send_message.max_retries == 5


def test_the_models_match_the_migrations(db):
    call_command("makemigrations", "messaging", "--check", "--dry-run", verbosity=0)


def test_messages_keep_no_contact_details():
    fields = {f.name for f in OutboundMessage._meta.get_fields()}
    assert not fields & {"to", "email", "phone", "contact", "contact_email", "contact_phone", "token"}


def test_the_purge_of_spent_contacts_still_works_after_sending(send, invitation):
    send(invitation)
    token = tokens_in(mail.outbox[0].body)[0]
    survey_services.submit_response(selectors.invitation_for_token(token), factories.full_answers(invitation))
    assert survey_services.purge_spent_contacts() == 1
    invitation.refresh_from_db()
    assert (invitation.contact_email, invitation.contact_phone) == ("", "")
    assert OutboundMessage.objects.filter(invitation=invitation).count() == 2  # history stays; it holds no contact


# --- manager pages -----------------------------------------------------------------------------


class TestManagerPages:
    @pytest.fixture
    def manager(self, client, manager_a):
        client.force_login(manager_a)
        return client

    def list_url(self, practice):
        return reverse("manager_invitations", args=[practice.slug])

    def send_url(self, practice, invitation):
        return reverse("manager_invitation_send", args=[practice.slug, invitation.pk])

    def test_send_now_queues_sends_and_comes_back_to_the_filtered_list(self, manager, practice_a, invitation, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            response = manager.post(self.send_url(practice_a, invitation), {"query": "status=open&page=1&evil=x"})
        assert response.status_code == 302
        assert response["Location"] == self.list_url(practice_a) + "?status=open&page=1"
        assert len(mail.outbox) == 1 and len(sms.outbox) == 1
        page = manager.get(response["Location"])
        html = page.content.decode()
        assert "Sending the link to 1 patient (1 by email, 1 by SMS)." in html
        assert 'data-channel="email" data-status="sent"' in html and 'data-channel="sms" data-status="sent"' in html
        assert EMAIL not in html and PHONE not in html

    def test_the_list_shows_queued_retrying_failed_and_not_needed(self, manager, practice_a, clinician_a, invitation):
        queued = OutboundMessage.objects.create(invitation=invitation, channel=Channel.EMAIL)
        OutboundMessage.objects.create(invitation=invitation, channel=Channel.SMS, status=Status.FAILED, last_error="Provider said no (HTTP 400).")
        html = manager.get(self.list_url(practice_a)).content.decode()
        assert 'data-channel="email" data-status="queued"' in html and "queued" in html
        assert "Provider said no (HTTP 400)." in html
        OutboundMessage.objects.filter(pk=queued.pk).update(attempts=1, last_error="The mail server failed for now (SMTP 451).")
        html = manager.get(self.list_url(practice_a)).content.decode()
        assert "retrying" in html and "SMTP 451" in html
        OutboundMessage.objects.filter(pk=queued.pk).update(status=Status.CANCELLED, last_error="Not sent: the link had expired.")
        assert "the link had expired" in manager.get(self.list_url(practice_a)).content.decode()

    def test_send_now_shows_only_for_open_invitations_with_contact_details(self, manager, practice_a, clinician_a, invitation):
        answered = with_contact(factories.visit(practice_a, clinician_a, "PA-answered"))
        survey_services.submit_response(answered, factories.full_answers(answered))
        factories.visit(practice_a, clinician_a, "PA-bare")
        html = manager.get(self.list_url(practice_a)).content.decode()
        assert html.count('class="btn btn-outline-primary btn-sm send-now"') == 1
        assert f'action="{self.send_url(practice_a, invitation)}"' in html

    def test_send_to_all_not_yet_sent(self, manager, practice_a, clinician_a, invitation, django_capture_on_commit_callbacks):
        with_contact(factories.visit(practice_a, clinician_a, "PA-2"), phone="")
        factories.visit(practice_a, clinician_a, "PA-bare")
        html = manager.get(self.list_url(practice_a)).content.decode()
        assert "Send to all not yet sent (2 invitations)" in html
        with django_capture_on_commit_callbacks(execute=True):
            response = manager.post(reverse("manager_invitations_send_unsent", args=[practice_a.slug]))
        assert response.status_code == 302
        assert len(mail.outbox) == 2 and len(sms.outbox) == 1
        html = manager.get(self.list_url(practice_a)).content.decode()
        assert "Send to all not yet sent" not in html
        response = manager.post(reverse("manager_invitations_send_unsent", args=[practice_a.slug]), follow=True)
        assert b"Nothing to send" in response.content
        event = AuditEvent.objects.filter(action=Action.MESSAGES_QUEUED).first()
        assert event.detail["scope"] == "all_unsent" and event.detail["invitations"] == 0

    def test_another_practices_invitation_is_404(self, client, manager_b, practice_a, practice_b, invitation):
        client.force_login(manager_b)
        assert client.post(self.send_url(practice_b, invitation)).status_code == 404
        assert client.post(self.send_url(practice_a, invitation)).status_code == 404
        assert not OutboundMessage.objects.exists()

    def test_clinicians_get_404_and_anonymous_visitors_sign_in(self, client, clinician_a, practice_a, invitation):
        for url in (self.send_url(practice_a, invitation), reverse("manager_invitations_send_unsent", args=[practice_a.slug])):
            assert client.post(url).status_code == 302
            client.force_login(clinician_a)
            assert client.post(url).status_code == 404
            client.logout()
        assert not OutboundMessage.objects.exists()

    def test_it_rejects_get_and_needs_the_csrf_token(self, manager_a, manager, practice_a, invitation):
        assert manager.get(self.send_url(practice_a, invitation)).status_code == 405
        assert manager.get(reverse("manager_invitations_send_unsent", args=[practice_a.slug])).status_code == 405
        strict = Client(enforce_csrf_checks=True)
        strict.force_login(manager_a)
        assert strict.post(self.send_url(practice_a, invitation)).status_code == 403
        assert not OutboundMessage.objects.exists()

    def test_the_list_query_count_does_not_grow_with_messages(self, manager, practice_a, clinician_a, send, django_assert_max_num_queries):
        send(with_contact(factories.visit(practice_a, clinician_a, "PA-first")))
        with django_assert_max_num_queries(8) as few:
            manager.get(self.list_url(practice_a))
        send(*[with_contact(factories.visit(practice_a, clinician_a, f"PA-{i}")) for i in range(20)])
        with django_assert_max_num_queries(len(few.captured_queries)):
            manager.get(self.list_url(practice_a))


class TestImportAndSend:
    CSV = (
        "date,clinician,patient,email,phone\r\n"
        f"2025-03-04,clin-a,PA-001,{EMAIL},\r\n"
        f"2025-03-04,clin-a,PA-002,,{PHONE}\r\n"
        "2025-03-05,clin-a,PA-003,,\r\n"
    ).encode()

    @pytest.fixture
    def previewed(self, client, manager_a, clinician_a, practice_a):
        from django.core.files.uploadedfile import SimpleUploadedFile

        client.force_login(manager_a)
        response = client.post(
            reverse("manager_import", args=[practice_a.slug]), {"file": SimpleUploadedFile("v.csv", self.CSV, "text/csv")}
        )
        assert response.status_code == 200
        return client, response

    def confirm(self, client, practice, **extra):
        from front import manager_views
        digest = client.session[manager_views.IMPORT_SESSION_KEY]["sha256"]
        return client.post(reverse("manager_import_confirm", args=[practice.slug]), {"sha256": digest, **extra})

    def test_the_preview_offers_to_send_the_links(self, previewed):
        _, response = previewed
        html = response.content.decode()
        assert 'name="send_links"' in html and "patients with contact details (2 visits)" in html
        assert "checked" not in re.search(r'<input[^>]*name="send_links"[^>]*>', html).group(0)

    def test_confirm_with_the_box_ticked_sends_the_links(self, previewed, practice_a, django_capture_on_commit_callbacks):
        client, _ = previewed
        with django_capture_on_commit_callbacks(execute=True):
            response = self.confirm(client, practice_a, send_links="1")
        assert response.status_code == 200
        assert "Sending the questionnaire link to 2 patients (1 by email, 1 by SMS)" in response.content.decode()
        assert [m.to for m in mail.outbox] == [[EMAIL]] and [to for to, _ in sms.outbox] == [PHONE]
        event = AuditEvent.objects.get(action=Action.MESSAGES_QUEUED)
        assert event.detail == {"kind": "invite", "scope": "import", "invitations": 2, "email": 1, "sms": 1}
        assert EMAIL not in json.dumps(event.detail) and PHONE not in json.dumps(event.detail)

    def test_confirm_without_the_box_sends_nothing(self, previewed, practice_a, django_capture_on_commit_callbacks):
        client, _ = previewed
        with django_capture_on_commit_callbacks(execute=True):
            assert self.confirm(client, practice_a).status_code == 200
        assert not mail.outbox and not sms.outbox and not OutboundMessage.objects.exists()


# --- races (PostgreSQL) ------------------------------------------------------------------------


def at_once(work, count=8):
    """Run work() in `count` threads released together; returns each thread's result or exception."""
    from django.db import connection

    barrier = threading.Barrier(count)
    results = [None] * count

    def run(index):
        try:
            connection.close()
            barrier.wait(timeout=30)
            results[index] = work()
        except Exception as exc:  # the test inspects every outcome
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
class TestRaces:
    @pytest.fixture(autouse=True)
    def held(self, monkeypatch):
        """Queued messages stay queued: the test plays the workers."""
        monkeypatch.setattr(services, "_enqueue", lambda ids: None)

    def test_workers_holding_the_same_message_send_it_once(self, invitation, practice_a, manager_a):
        services.queue_invites(practice_a, None, requested_by=manager_a, scope="all_unsent")
        message = OutboundMessage.objects.get(channel=Channel.EMAIL)
        results = at_once(lambda: services.send_message(message.pk))
        assert results.count(Status.SENT) >= 1 and len(mail.outbox) == 1, results
        assert all(r == Status.SENT or isinstance(r, services.MessageBusy) for r in results), results
        message.refresh_from_db()
        assert (message.status, message.attempts) == (Status.SENT, 1)

    def test_managers_clicking_at_once_queue_one_message_per_channel(self, invitation, practice_a, manager_a):
        results = at_once(lambda: services.queue_invites(practice_a, None, requested_by=manager_a, scope="all_unsent").messages)
        assert sorted(results) == [0] * 7 + [2], results
        assert OutboundMessage.objects.filter(status=Status.QUEUED).count() == 2

    def test_sweeps_running_at_once_make_one_reminder_per_channel(self, invitation, practice_a, manager_a):
        services.queue_invites(practice_a, None, requested_by=manager_a, scope="all_unsent")
        OutboundMessage.objects.update(status=Status.SENT, sent_at=days_ago(4))
        results = at_once(lambda: services.queue_reminders().messages)
        assert sum(results) == 2, results
        assert OutboundMessage.objects.filter(kind=Kind.REMINDER).count() == 2


# --- the competencies self-assessment reminder (issue 14) ---------------------------------------------------------


class TestSelfAssessmentReminders:
    @pytest.fixture
    def due(self, practice_a, clinician_a, competencies):
        clinician_a.email = "clin-a@example.org"
        clinician_a.save()
        return clinician_a

    def test_a_clinician_whose_self_assessment_is_due_gets_one_email_per_period(self, due, practice_a):
        assert services.send_self_assessment_reminders() == 1
        assert services.send_self_assessment_reminders() == 0  # the next daily sweep sends nothing more
        email, = mail.outbox
        assert email.to == ["clin-a@example.org"]
        assert "self-assessment" in email.subject and "autoevaluación" in email.subject
        assert f"https://healing.example/clinician/self-assessment/{practice_a.slug}/" in email.body

    def test_the_next_period_reminds_again(self, due):
        services.send_self_assessment_reminders()
        services.send_self_assessment_reminders(today=timezone.localdate() + dt.timedelta(days=120))
        assert len(mail.outbox) == 2

    def test_nobody_is_reminded_of_a_self_assessment_already_taken(self, due, practice_a):
        survey_services.submit_self_assessment(practice_a, due, {f"S0{i}": "4" for i in range(1, 9)})
        assert services.send_self_assessment_reminders() == 0 and not mail.outbox

    def test_a_failed_send_is_tried_again_on_the_next_sweep(self, due, monkeypatch):
        def refuse(*args, **kwargs):
            raise sms.TransientSendError("The mail server failed (SMTPServerDisconnected).")

        monkeypatch.setattr(services, "_send_email", refuse)
        assert services.send_self_assessment_reminders() == 0
        monkeypatch.undo()
        assert services.send_self_assessment_reminders() == 1 and len(mail.outbox) == 1

    def test_the_task_runs_from_the_beat_schedule(self, due, settings):
        assert settings.CELERY_BEAT_SCHEDULE["self-assessment-reminders"]["task"] == tasks.send_self_assessment_reminders.name
        assert tasks.send_self_assessment_reminders.delay().get() == 1
