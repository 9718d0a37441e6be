"""The worker's database check, before Faust starts anything (``FlamebackWorker.__init__``).

It runs before Faust prints its banner or sets up logging: an older schema is
upgraded (under the migration lock, :mod:`flameback_app.storage.schema`) with one line
saying so on stderr, and a database the worker may not use is one line on stderr
and exit code 1. Other commands never touch the schema.

A database server that is not up yet (connection refused, still starting, shutting
down) is waited for, with backoff and one line saying so, for at most
``FLAMEBACK_DB_WAIT_S`` — the Procfile starts everything together, and a PostgreSQL
restart must not need a worker restart too. What waiting cannot fix (a wrong host
name, a bad password, an unknown database) is still one line and exit 1 at once.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from typing import NoReturn, TypeVar

from sqlalchemy.exc import OperationalError, SQLAlchemyError
from tenacity import RetryCallState, retry, retry_if_exception, wait_exponential

from flameback_app.settings import Settings
from flameback_app.storage.db import make_engine
from flameback_app.storage.schema import SchemaError, UpgradeResult, prepare, redacted


def prepare_database(settings: Settings) -> UpgradeResult:
    """Bring the schema to head (or refuse); exit 1 with one line when the database cannot be used."""
    engine = make_engine(settings.db_url)
    started = time.monotonic()
    try:
        upgrade = functools.partial(prepare, engine, settings.db_auto_upgrade, on_wait=say)
        result = _while_waiting(upgrade, settings.db_wait_s, redacted(engine))()
    except SchemaError as exc:
        fail(str(exc))
    except SQLAlchemyError as exc:
        if _is_down(exc):
            fail(
                f"no database server answered at {redacted(engine)} within {settings.db_wait_s:.0f}s "
                f"(FLAMEBACK_DB_WAIT_S sets how long to wait): {_reason(exc)}"
            )
        fail(f"cannot use the database {redacted(engine)}: {_reason(exc)}")
    finally:
        engine.dispose()
    if _waited:
        say(f"the database at {redacted(engine)} is up after {time.monotonic() - started:.1f}s")
    if result.migrated:
        say(result.describe())
    return result


T = TypeVar("T")

# Said once the first time the server is found down (module-level: the retry callback sets it).
_waited: list[str] = []

# What a database server says while it is not (yet) there; a bad password or an unknown
# database answer with FATAL and are not in this list.
DOWN_MARKERS = (
    "connection refused",
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "server closed the connection unexpectedly",
    "timeout expired",
    "no such file or directory",
)


def _is_down(exc: BaseException) -> bool:
    """A server that does not answer (yet): worth waiting for. Not for SQLite (its errors are all final)."""
    if not isinstance(exc, OperationalError) or "sqlite" in type(getattr(exc, "orig", exc)).__module__:
        return False
    return any(m in _reason(exc).lower() for m in DOWN_MARKERS)


def _while_waiting(fn: Callable[[], T], wait_s: float, where: str) -> Callable[[], T]:
    """``fn`` retried while the SQLite file is locked (120 s) or the server is down (``wait_s``), with backoff."""

    def worth_retrying(exc: BaseException) -> bool:
        return _is_locked(exc) or _is_down(exc)

    def stop(state: RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        limit = wait_s if exc is not None and _is_down(exc) else 120.0
        return (state.seconds_since_start or 0.0) >= limit

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        if exc is not None and _is_down(exc) and not _waited:
            _waited.append(where)
            say(f"waiting up to {wait_s:.0f}s for the database at {where}: {_reason(exc)}")

    return retry(
        retry=retry_if_exception(worth_retrying),
        wait=wait_exponential(multiplier=0.2, max=5),
        stop=stop,
        before_sleep=before_sleep,
        reraise=True,
    )(fn)


def _is_locked(exc: BaseException) -> bool:
    """A SQLite file another process holds past the busy timeout (a worker mid-write): worth waiting for."""
    return isinstance(exc, OperationalError) and any(w in _reason(exc).lower() for w in ("locked", "busy"))


def _reason(exc: BaseException) -> str:
    return " ".join(str(getattr(exc, "orig", None) or exc).split())


def say(message: str) -> None:
    print(f"[flameback] {message}", file=sys.stderr, flush=True)


def fail(message: str) -> NoReturn:
    print(f"Error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(1)
