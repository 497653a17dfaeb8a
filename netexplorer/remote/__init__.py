"""Reading a Docker host over SSH: the agent on the host, the laptop's side of the wire.

    protocol   frames and messages: versioned, length-delimited JSON; a strict decoder
    target     ``ssh://[user@]host[:port]``, ``DOCKER_HOST`` and the docker context
    agent      ``netexplorer agent``: the live feed on the host, written to stdout
    ssh        the system ``ssh`` client running the agent; faults named in words
    feed       RemoteFeed: a remote host as a stream of Snapshots, reconnecting
    hosts      several hosts at once, connected concurrently

Nothing here imports Textual. Correlation and the doctor run on the laptop: the
agent sends the read.
"""
