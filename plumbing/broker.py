"""The embedded broker of `make run`: kombu's filesystem transport, made safe for a worker that reads while
others write.

kombu's filesystem transport creates a message file and then writes into it. A worker polling the folder can
take the file in between and read an empty or half-written message; the JSON error that follows stops the
worker (seen under `make run`: the first report request, which fans out a task per clinician, killed it). Here a
message is written under a name no worker reads and renamed into place once complete: a rename within one
folder is atomic, so a worker sees a whole message or none. A message that still cannot be read (a file written
by another program, a full disk) is logged and skipped instead of stopping the worker; the report it belonged
to then shows as stale and can be retried.

Settings select it with `CELERY_BROKER_TRANSPORT = "plumbing.broker:Transport"` for `filesystem://` only;
production uses Redis.
"""

from __future__ import annotations

import logging
import os
import uuid
from time import monotonic

from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

logger = logging.getLogger(__name__)

PARTIAL_PREFIX = "."
"""Message files being written start with a dot: kombu reads only `<time>_<id>.<queue>.msg`."""


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        """Write the message beside the queue under a hidden name, then rename it into the queue."""
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, PARTIAL_PREFIX + name)
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _get(self, queue):
        """The next whole message; an unreadable one is logged and skipped, never raised into the worker."""
        while True:
            try:
                return super()._get(queue)
            except ValueError as exc:  # json.JSONDecodeError: the file is gone, so the next call moves on
                logger.error("Skipped an unreadable message on queue %s: %s", queue, exc)


class Transport(filesystem.Transport):
    Channel = Channel
