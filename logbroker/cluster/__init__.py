"""A cluster of brokers coordinated through ZooKeeper, Apache Kafka's ZooKeeper-era design.

Runs only when ``zookeeper.connect`` is set; a single broker never imports it.

    znodes.py     paths and JSON layouts of the znodes (broker registration, controller, topics,
                  partition state)
    session.py    the ZooKeeper session (kazoo) and the bridge from its threads to the event loop
    controller.py controller election (fenced by ``/controller_epoch``) and leader election
    replicas.py   a leader's view of its followers: ISR, high watermark, acks=all waiters
    fetcher.py    a follower's fetch loop to one leader (Fetch with its replica id)
    backoff.py    the follower's reconnect backoff (Kafka's exponential backoff with jitter)
    broker_connection.py  a connection to another broker on the inter-broker listener (TLS, SASL)
    peer_connections.py   one pooled, pipelined connection per other broker (backoff, time limits)
    leader_offsets.py     partition offsets asked of their leaders (ListOffsets) for the HTTP views
    leader_sizes.py       partition sizes asked of their leaders (DescribeLogDirs) for the HTTP views
    share_forwarder.py    a group coordinator's HTTP share members at other leaders (ShareFetch/Ack)
    node.py       this broker in the cluster: registration, roles, the core's PartitionOwnership
    zkserver.py   a local ZooKeeper process for development and tests
"""
