"""The worker's database check, before Faust starts anything (``FlamebackWorker.__init__``).

It runs before Faust prints its banner or sets up logging: an older schema is
upgraded (under the migration lock, :mod:`flameback_app.schema`) with one line
saying so on stderr, and a database the worker may not use is one line on stderr
and exit code 1. Other commands never touch the schema.
"""

from __future__ import annotations

import sys
from typing import NoReturn

from sqlalchemy.exc import OperationalError, SQLAlchemyError
from tenacity import retry, retry_if_exception, stop_after_delay, wait_exponential

from flameback_app.db import make_engine
from flameback_app.schema import SchemaError, UpgradeResult, prepare, redacted
from flameback_app.settings import Settings


def prepare_database(settings: Settings) -> UpgradeResult:
    """Bring the schema to head (or refuse); exit 1 with one line when the database cannot be used."""
    engine = make_engine(settings.db_url)
    try:
        result = _while_locked(prepare)(engine, settings.db_auto_upgrade, on_wait=say)
    except SchemaError as exc:
        fail(str(exc))
    except SQLAlchemyError as exc:
        fail(f"cannot use the database {redacted(engine)}: {_reason(exc)}")
    finally:
        engine.dispose()
    if result.migrated:
        say(result.describe())
    return result


def _is_locked(exc: BaseException) -> bool:
    """A SQLite file another process holds past the busy timeout (a worker mid-write): worth waiting for."""
    return isinstance(exc, OperationalError) and any(w in _reason(exc).lower() for w in ("locked", "busy"))


def _while_locked(fn):  # type: ignore[no-untyped-def]
    return retry(retry=retry_if_exception(_is_locked), wait=wait_exponential(multiplier=0.2, max=5),
                 stop=stop_after_delay(120), reraise=True)(fn)  # fmt: skip


def _reason(exc: SQLAlchemyError) -> str:
    return " ".join(str(getattr(exc, "orig", None) or exc).split())


def say(message: str) -> None:
    print(f"[flameback] {message}", file=sys.stderr, flush=True)


def fail(message: str) -> NoReturn:
    print(f"Error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(1)
