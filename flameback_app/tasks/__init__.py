"""The worker's Faust timers and start-up tasks (Faust layer), found by autodiscovery.

It owns when things happen in a worker: model loading at start, training checks and
health publishing (:mod:`.schedules`), topic creation and the embedded broker's restart
check (:mod:`.upkeep`). The work itself lives in :mod:`flameback_app.worker`; these
modules only schedule it on the app, so they may import the Faust app and the worker;
nothing imports them.
"""
