"""The start-up guard: the fixes were written against exact versions of Faust, mode and aiokafka.

The fixes override private methods and read private attributes (``_read_offset``,
``_unacked_messages``, ``_topics``, ``_fetch_max_wait_ms``…). A release that renames
one would not fail loudly: the fix would stop applying, and offsets of unprocessed
ticks would be committed again. So the app is built only on the versions the tests
ran against; upgrading means re-reading each fix against the new source, re-running
``tests/flameback_app/kafka/test_faust_fixes.py`` and the e2e resilience tests, then changing
:data:`TESTED_VERSIONS` together with ``constraints.txt``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib.metadata import PackageNotFoundError, version

TESTED_VERSIONS: Mapping[str, str] = {
    "faust-streaming": "0.15.3",
    "mode-streaming": "0.7.1",
    "aiokafka": "0.14.0",
}


def installed_version(distribution: str) -> str:
    """The installed version of ``distribution``, or ``"none"``."""
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "none"


def version_mismatch_line(installed: Callable[[str], str] = installed_version) -> str | None:
    """The one-line refusal when any installed version differs from :data:`TESTED_VERSIONS`, else None."""
    found = {name: installed(name) for name in TESTED_VERSIONS}
    if found == dict(TESTED_VERSIONS):
        return None
    return (
        "Error: flameback's Faust fixes were written for "
        + ", ".join(f"{name}=={wanted}" for name, wanted in TESTED_VERSIONS.items())
        + "; found "
        + ", ".join(f"{name}=={found[name]}" for name in TESTED_VERSIONS)
        + " (install from constraints.txt)"
    )


def require_tested_versions(installed: Callable[[str], str] = installed_version) -> None:
    """Exit with one ``Error:`` line (status 1) unless the tested versions are installed."""
    line = version_mismatch_line(installed)
    if line is not None:
        raise SystemExit(line)
