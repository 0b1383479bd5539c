"""logbroker: a Kafka-style partitioned commit-log broker that speaks the Kafka wire protocol."""

__version__ = "0.1.0"
