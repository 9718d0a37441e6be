"""The alert webhook against a loopback HTTP receiver: retried with backoff, never blocking, token never logged."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from flameback_app.worker.webhook import WebhookSender, safe_url

TOKEN = "s3cr3t-T0KEN"


class Receiver(ThreadingHTTPServer):
    """Answers each POST with the next status of ``statuses`` (then 200), after ``gate`` opens; keeps the bodies."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.statuses: list[int] = []
        self.bodies: list[dict] = []
        self.arrived = threading.Event()
        self.gate = threading.Event()
        self.gate.set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/{TOKEN}?key={TOKEN}"


class Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # http.server calls it by this name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.arrived.set()
        self.server.gate.wait(10)
        status = self.server.statuses.pop(0) if self.server.statuses else 200
        if status == 200:
            self.server.bodies.append(body)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.gate.set()
    server.shutdown()
    server.server_close()


def test_a_failing_receiver_is_retried_with_backoff_until_it_takes_the_alert(receiver: Receiver, caplog) -> None:
    receiver.statuses = [503, 500, 429]
    sender = WebhookSender(receiver.url, attempts=5, backoff_s=0.05)
    with caplog.at_level(logging.DEBUG):
        started = time.monotonic()
        assert sender.submit({"symbol": "ES1 Index", "message": "RSI crossed above 70"})
        sender.close(timeout=10)
    took = time.monotonic() - started
    assert receiver.bodies == [{"symbol": "ES1 Index", "message": "RSI crossed above 70"}]
    assert (sender.sent, sender.failed) == (1, 0)
    retries = [r.getMessage() for r in caplog.records if "attempt" in r.getMessage()]
    assert len(retries) == 3 and "HTTP 503; attempt 1 of 5" in retries[0]
    assert took >= 0.05 + 0.1 + 0.2 - 0.02  # exponential waits: 0.05, 0.1, 0.2 s
    assert TOKEN not in caplog.text and safe_url(receiver.url) in retries[0]


def test_attempts_run_out_and_a_4xx_is_not_retried(receiver: Receiver, caplog) -> None:
    receiver.statuses = [503, 503, 400]
    sender = WebhookSender(receiver.url, attempts=2, backoff_s=0.01)
    with caplog.at_level(logging.WARNING):
        sender.submit({"n": 1})  # 503, 503: gives up after 2 attempts
        sender.submit({"n": 2})  # 400: refused at once
        sender.submit({"n": 3})  # 200
        sender.close(timeout=10)
    assert (sender.sent, sender.failed) == (1, 2) and receiver.bodies == [{"n": 3}]
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == [
        f"alert webhook {safe_url(receiver.url)}: alert not delivered (HTTP 503)",
        f"alert webhook {safe_url(receiver.url)}: alert not delivered (HTTP 400, not retried)",
    ]
    assert TOKEN not in caplog.text


def test_submit_never_waits_for_a_stuck_receiver_and_drops_beyond_the_queue(receiver: Receiver) -> None:
    receiver.gate.clear()  # the receiver holds every request until the gate opens
    sender = WebhookSender(receiver.url, queue_size=2, backoff_s=0.01)
    sender.submit({"n": 0})
    assert receiver.arrived.wait(5)  # the sender's thread is now stuck in that POST
    waits = []
    for n in range(1, 5):
        started = time.monotonic()
        waits.append(sender.submit({"n": n}))
        assert time.monotonic() - started < 0.05
    assert waits == [True, True, False, False] and sender.dropped == 2
    receiver.gate.set()
    sender.close(timeout=10)
    assert [b["n"] for b in receiver.bodies] == [0, 1, 2]


def test_an_unreachable_receiver_is_logged_without_the_token(caplog) -> None:
    sender = WebhookSender(f"http://127.0.0.1:9/hooks/{TOKEN}", attempts=2, backoff_s=0.01, timeout_s=1)
    with caplog.at_level(logging.DEBUG):
        sender.submit({"n": 1})
        sender.close(timeout=10)
    assert sender.failed == 1 and TOKEN not in caplog.text
    assert "http://127.0.0.1:9/…: ConnectionRefusedError; attempt 1 of 2" in caplog.text


def test_safe_url_keeps_only_scheme_and_host() -> None:
    assert (
        safe_url("https://user:pw@hooks.example.com:8443/services/T0/B1/xyz?token=1")
        == "https://hooks.example.com:8443/…"
    )
    assert safe_url("http://127.0.0.1:8000") == "http://127.0.0.1:8000"
