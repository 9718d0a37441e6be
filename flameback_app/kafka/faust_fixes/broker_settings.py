"""Faust settings for the embedded broker (Tansu); a real Kafka cluster keeps Faust's defaults.

Each setting answers a trap measured on Tansu, described in ``docs/broker-traps.md``.
"""

from __future__ import annotations

from typing import Any


def embedded_broker_conf() -> dict[str, Any]:
    """Faust settings for Tansu (each one answers a trap in ``docs/broker-traps.md``)."""
    return {
        # Tansu holds JoinGroup replies for half the session timeout: 60 s → 30 s first join.
        "broker_session_timeout": 4,
        "broker_heartbeat_interval": 1,
        # Tansu reports the newest batch's base offset + 1 as the end offset, which trips
        # Faust's recovery consistency check during rebalances.
        "recovery_consistency_check": False,
    }
