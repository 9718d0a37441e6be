"""Worker upkeep: its topics exist, and a restarted embedded broker means starting over.

Reads: the broker's topics and cluster id. Writes: missing topics (at start), and
on the embedded broker only, replaces this worker process with a fresh one when the
broker has restarted.

- At start the worker creates every topic it reads or writes that does not exist,
  with ``FLAMEBACK_PARTITIONS`` partitions (docs/broker-traps.md: never rely on auto-create; the
  sink topics — features, dead letters — are not declared by Faust itself).
- Tansu keeps topics, offsets and groups in memory; restarted, it is a new empty
  cluster (the ``broker`` command gives every start its own cluster id). Faust does
  not cope: its rebalance waited for commits and producer sends aimed at the
  vanished topics, and the worker never re-joined (seen in the broker-restart test).
  So when the cluster id changes the worker re-executes itself in place (same PID,
  so honcho or systemd keep supervising it). That is the restart after a SIGKILL the
  end-to-end tests check for exactness: local RocksDB state and the database stay;
  what was only in the old broker's topics is gone (the README says what).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from flameback_app.broker.embedded import ensure_topics
from flameback_app.faust_app import app, settings
from tables.definitions import scoreboards, symbol_states

log = logging.getLogger(__name__)
CHECK_EVERY_S = 5.0
_BROKER_DOWN = (KafkaError, OSError, TimeoutError)


def worker_topics() -> dict[str, int]:
    """Every topic the worker reads or writes, with its partition count."""
    topics = settings.topics.with_partitions(settings.partitions)
    topics.update({t.changelog_topic.get_topic_name(): settings.partitions for t in (symbol_states, scoreboards)})
    topics[f"{app.conf.id}-__assignor-__leader"] = 1  # Faust's leader election topic
    return topics


async def cluster_id() -> str | None:
    """The broker's cluster id, or None while it does not answer."""
    admin = AIOKafkaAdminClient(**app.flameback_kafka.kwargs(), request_timeout_ms=5000)
    try:
        await admin.start()
        return (await admin.describe_cluster()).get("cluster_id")
    except _BROKER_DOWN:
        return None
    finally:
        await admin.close()


def restart_in_place(reason: str) -> None:
    """Replace this process by a fresh worker with the same command line (same PID)."""
    log.warning("%s: restarting this worker to reconnect (local state and the database are kept)", reason)
    logging.shutdown()
    os.execv(sys.executable, sys.orig_argv)  # noqa: S606 - this same interpreter and command line, no shell


@app.task
async def look_after_the_broker() -> None:
    """Create missing topics; on the embedded broker, start over when it comes back as a new cluster."""
    kafka = app.flameback_kafka
    await ensure_topics(list(kafka.bootstrap), worker_topics(), security=kafka.security_kwargs())
    if not settings.broker_is_embedded:
        return
    first = await cluster_id()  # the broker is up: the worker waited for it before starting
    while not app.should_stop:
        await asyncio.sleep(CHECK_EVERY_S)
        current = await cluster_id()
        if first is None:
            first = current
        elif current is not None and current != first:
            restart_in_place(
                f"the embedded broker at {settings.broker} restarted (cluster id {first} → {current}) "
                "and lost its topics, offsets and groups (it keeps them in memory only)"
            )
