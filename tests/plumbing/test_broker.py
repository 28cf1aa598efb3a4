"""The embedded broker (plumbing/broker.py): a worker reading while another process writes gets whole messages.

With kombu's own filesystem transport, this very test read 0 of 100 one-megabyte messages: each was taken while
its writer was still writing, and decoding it raised JSONDecodeError, the error that stopped `make run`'s worker.
"""

from __future__ import annotations

import subprocess
import sys
import time
from queue import Empty

from django.conf import settings
from kombu import Connection

from plumbing import broker

TRANSPORT = "plumbing.broker:Transport"
MESSAGES = 100

PRODUCER = """
import sys
from kombu import Connection
folder, transport, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
options = {"data_folder_in": folder, "data_folder_out": folder, "store_processed": False}
with Connection("filesystem://", transport=transport, transport_options=options) as connection:
    channel = connection.default_channel
    for i in range(count):
        channel._put("burst", {"i": i, "pad": "x" * 1_000_000})
"""


def test_a_worker_reading_during_a_burst_of_large_messages_gets_each_one_whole(tmp_path):
    options = {"data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path), "store_processed": False}
    producer = subprocess.Popen([sys.executable, "-c", PRODUCER, str(tmp_path), TRANSPORT, str(MESSAGES)])
    received, errors = [], []
    with Connection("filesystem://", transport=TRANSPORT, transport_options=options) as connection:
        channel = connection.default_channel
        deadline = time.monotonic() + 120
        while len(received) < MESSAGES and time.monotonic() < deadline:
            try:
                received.append(channel._get("burst")["i"])
            except Empty:
                continue
            except Exception as exc:  # what stopped the worker: recorded, so the assertion shows it
                errors.append(repr(exc))
    assert producer.wait(timeout=60) == 0
    assert errors == []
    assert sorted(received) == list(range(MESSAGES))
    assert list(tmp_path.iterdir()) == []  # nothing half-written left behind


def test_an_unreadable_message_is_skipped_with_a_log_line_not_raised_into_the_worker(tmp_path, monkeypatch):
    logged = []
    monkeypatch.setattr(broker.logger, "error", lambda message, *args: logged.append(message % args))
    options = {"data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path), "store_processed": False}
    (tmp_path / "0_broken.burst.msg").write_bytes(b'{"half": ')  # sorts before any kombu name: read first
    with Connection("filesystem://", transport=TRANSPORT, transport_options=options) as connection:
        channel = connection.default_channel
        channel._put("burst", {"whole": True})
        assert channel._get("burst") == {"whole": True}
    assert len(logged) == 1 and logged[0].startswith("Skipped an unreadable message on queue burst: ")
    assert list(tmp_path.iterdir()) == []


def test_the_embedded_default_uses_it_and_production_does_not():
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        assert settings.CELERY_BROKER_TRANSPORT == TRANSPORT
    else:
        assert getattr(settings, "CELERY_BROKER_TRANSPORT", None) is None
