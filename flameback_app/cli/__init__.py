"""The operator's commands: ``faust -A flameback_app <command>`` (Faust layer).

It owns the command-line surface: replay, simulate, features, train, evaluate
(:mod:`.commands`), the broker (:mod:`.broker_command`) and the schema (:mod:`.db_command`).
Faust's autodiscovery finds these modules. They may import everything below them (core,
storage, Kafka layer, broker, models, feeds); nothing imports them.
"""
