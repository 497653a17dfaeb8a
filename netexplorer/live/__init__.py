"""The live view's data layer: watchers, debounce, counter deltas, the feed.

    events.Event                 an event's kind (what it means here) beside its display text
    docker_events.DockerEvents   Docker's event stream in a thread, reconnecting
    netlink_events.NetlinkEvents rtnetlink link/address notifications in a thread
    debounce.Debouncer           many events -> one "collect now", after a quiet spell
    deltas                       rule counter changes between consecutive reads
    feed.LiveFeed                the loop: events -> a re-read of what they changed, a timer ->
                                 firewall and conntrack only; emits Snapshots

Nothing here imports Textual; the UI runs :meth:`LiveFeed.run` in a worker thread
and posts what it emits as ``SnapshotReady``. Every Snapshot still comes from
``collect.snapshot.assemble`` and so goes through ``correlate``.
"""
