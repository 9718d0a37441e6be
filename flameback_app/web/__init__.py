"""The worker's web views on ``http://127.0.0.1:6066`` (Faust layer): table state, symbols, health, counters, metrics.

It owns the Faust web views (:mod:`.views`), found by Faust's autodiscovery. They may
import the Faust app, the worker's runtime, storage and the Faust tables; nothing imports
them. The health verdict and the metrics they show are computed in :mod:`flameback_app.worker`.
"""
