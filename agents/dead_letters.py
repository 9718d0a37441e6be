"""The dead-letter topic: payloads the pipeline will not apply, untouched, with why and where from.

Both stages send here: ``ingest`` for payloads that are not valid ticks, the indicator
stage for valid ticks its symbol cannot take (``same_timestamp``: a second trade in the
same instant without a ``seq``; ``too_many_symbols``: beyond ``FLAMEBACK_MAX_SYMBOLS``).
Every send is counted per reason (``/counters/``, the terminal's health panel).
"""

from __future__ import annotations

import logging

from faust.types import EventT

from flameback_app.core.validation import InvalidTick
from flameback_app.faust_app import app, runtime, settings
from flameback_app.kafka.faust_handles import raw_topic

log = logging.getLogger(__name__)

dead_letter_topic = raw_topic(app, settings.dead_letter_topic, settings.partitions)


async def dead_letter(event: EventT, exc: InvalidTick, value: bytes | None = None) -> None:
    """Send the payload (``value``, else the event's own) to the DLQ with reason, detail and source headers."""
    message = event.message
    runtime.counters.reject(exc.reason)
    log.debug("rejected %s[%d]@%d: %s", message.topic, message.partition, message.offset, exc.reason)
    headers = {
        "reason": exc.reason.encode(),
        "detail": exc.detail.encode("utf-8", "replace")[:500],
        "source": f"{message.topic}/{message.partition}/{message.offset}".encode(),
    }
    payload = value if value is not None else (message.value or b"")
    await dead_letter_topic.send(key=message.key, value=payload, headers=headers)
