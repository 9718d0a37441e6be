"""One worker process's resources and background work, around the agents (no Faust).

It owns the shared runtime (database engine, executor: :mod:`.runtime`), what the worker
knows about itself (pipeline :mod:`.counters`, the :mod:`.health` verdict, Prometheus
:mod:`.metrics`), the models' lifecycle (:mod:`.model_service`) and health publishing
(:mod:`.health_publisher`). It may import the core, storage, the Kafka layer's read-only
introspection and the models; never the Faust app, so it is tested without a worker.
The Faust timers that drive it are in :mod:`flameback_app.tasks`.
"""
