"""logbroker's storage engine: Kafka record batch v2 segment files, indexes, retention and recovery.

This package imports nothing from ``logbroker`` and does no networking; it is usable on its own.
"""
