"""Console tools in the style of Kafka's (``kafka-console-producer``, ``kafka-topics``, ...).

Each module holds the logic of one command family and speaks the Kafka protocol through
kafka-python, so the tools work against any Kafka cluster, not only logbroker. None of them
prints: they return rows and lines, and ``logbroker.cli`` writes them out.
"""
