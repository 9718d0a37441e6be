"""The pure core: what a tick is and what it becomes, with no broker, database or Faust.

It owns the incremental indicator engine (:mod:`.ta`), the topic names (:mod:`.topics`), the tick record and its
validation (:mod:`.records`, :mod:`.validation`), the one CSV reader (:mod:`.ticks_csv`),
Kafka's partition function (:mod:`.partitioning`) and the offline feature run
(:mod:`.offline`). It may import the standard library, numpy and the settings'
constants only: neither Faust nor SQLAlchemy nor any other ``flameback_app`` package
(enforced by import-linter, ``setup.cfg``), so the same code runs live, offline, in
training and in the benchmarks.
"""
