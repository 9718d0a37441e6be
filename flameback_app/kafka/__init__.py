"""The Kafka layer: topic names, client configuration, and our fixes of Faust and aiokafka.

It owns how every client connects
(:mod:`.kafka_client`), the Faust handles built from them (:mod:`.faust_handles`), the
cheaper per-message path (:mod:`.lean_faust`) and the fixes of Faust's and aiokafka's
data-loss bugs as subclasses this app's instances use (:mod:`.faust_fixes`, the only
place allowed to touch Faust's private state). :mod:`.kafka_client`
imports neither Faust nor the database; the rest may import Faust, never the agents.
"""
