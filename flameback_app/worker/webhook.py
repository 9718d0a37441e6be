"""The alert webhook: POST each alert as JSON, retried with backoff, on a thread of its own.

The pipeline only ever calls :meth:`WebhookSender.submit`, which puts the alert in a
bounded queue and returns at once: a slow or dead receiver delays nothing but other
webhooks, and when the queue is full new alerts are dropped (counted and logged; the
alert itself is in the database either way). One daemon thread delivers them in order,
each retried with exponential backoff (tenacity) on connection errors, timeouts and
408/429/5xx answers; another 4xx is a mistake retrying will not fix.

The URL may carry a token (in its path or query): logs name it by scheme and host only.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

log = logging.getLogger(__name__)
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_STOP = object()


class DeliveryError(Exception):
    """A failed POST worth another try; its message never holds the URL."""


class Refused(Exception):
    """The receiver refused the alert for good (a 4xx other than 408/425/429)."""


def safe_url(url: str) -> str:
    """The URL without what may be secret (user info, path, query): ``https://host:port/…``."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}/…" if (parts.path.strip("/") or parts.query) else f"{parts.scheme}://{host}"


class WebhookSender:
    """Deliver alerts to one URL from a background thread (started on the first :meth:`submit`)."""

    def __init__(
        self,
        url: str,
        *,
        attempts: int = 5,
        queue_size: int = 1000,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        timeout_s: float = 5.0,
    ) -> None:
        self.url = url
        self.shown = safe_url(url)
        self.attempts = attempts
        self.backoff_s, self.max_backoff_s, self.timeout_s = backoff_s, max_backoff_s, timeout_s
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self.sent = self.failed = self.dropped = 0
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, payload: dict[str, Any]) -> bool:
        """Queue one alert without waiting; False (and counted) when the queue is full."""
        self._start()
        try:
            self.queue.put_nowait(payload)
            return True
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 100 == 0:
                log.warning(
                    "alert webhook %s: queue full (%d waiting), %d alert(s) dropped so far; they are in the "
                    "alerts table",
                    self.shown,
                    self.queue.maxsize,
                    self.dropped,
                )
            return False

    def close(self, timeout: float | None = None) -> None:
        """Deliver what is queued (up to ``timeout``), then stop the thread."""
        if self._thread is not None:
            self.queue.put(_STOP)
            self._thread.join(timeout)

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="flameback-webhook", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while (payload := self.queue.get()) is not _STOP:
            try:
                self.deliver(payload)
                self.sent += 1
            except (DeliveryError, Refused) as exc:
                self.failed += 1
                log.error("alert webhook %s: alert not delivered (%s)", self.shown, exc)

    def deliver(self, payload: dict[str, Any]) -> None:
        """POST one alert, retrying with exponential backoff; raises the last error once attempts run out."""
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=self.backoff_s, max=self.max_backoff_s),
            retry=retry_if_exception_type(DeliveryError),
            before_sleep=self._log_retry,
            reraise=True,
        )
        retrying(self._post, json.dumps(payload, separators=(",", ":")).encode())

    def _post(self, body: bytes) -> None:
        request = urllib.request.Request(  # noqa: S310 - http(s) only (settings)
            self.url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310 - as above
                response.read()
        except urllib.error.HTTPError as exc:
            if exc.code in RETRY_STATUSES:
                raise DeliveryError(f"HTTP {exc.code}") from None
            raise Refused(f"HTTP {exc.code}, not retried") from None
        except (urllib.error.URLError, OSError) as exc:  # refused, reset, DNS, timeout: str(exc) may name the URL
            reason = getattr(exc, "reason", exc)
            raise DeliveryError(reason.__class__.__name__) from None

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "alert webhook %s: %s; attempt %d of %d, next in %.1fs",
            self.shown,
            exc,
            state.attempt_number,
            self.attempts,
            state.upcoming_sleep,
        )
