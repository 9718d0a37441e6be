"""Our fixes of Faust and aiokafka, as subclasses this app's instances use (and nothing else).

Faust 0.15 commits offsets of messages no agent processed, in the ways traced in
:mod:`.acks`, :mod:`.gaps`, :mod:`.contiguous_reads` and :mod:`.recovery`; aiokafka's
client loses topics and brokers it knew (:mod:`.clients`); Faust hard-codes a fetch
wait the embedded broker sleeps through (:mod:`.fetch_wait`). Each fix is a subclass,
wired in through Faust's own extension points: the app's transport
(:class:`.transport.Transport`, which names our ``Consumer``, consumer thread and
``Producer``) and the ``TableManager`` setting (:class:`.recovery.TableManager`). Other
Faust apps and aiokafka clients in the same process are untouched.

Together they keep one invariant for the agents' source topics: an offset is committed
only after an agent marked its message processed (:func:`mark_processed`), and messages
reach the agents in offset order. They rely on private attributes of the versions in
:data:`.versions.TESTED_VERSIONS`; :func:`require_tested_versions` refuses any other.
This package is the only place that may touch Faust's or aiokafka's private names.
It imports Faust and aiokafka, nothing of Flameback. The package itself imports
nothing, so :mod:`.clients` (aiokafka only) serves processes without Faust, such as
the feeds. Where each piece is wired in: :mod:`flameback_app.faust_app` (``create_app``).
"""
