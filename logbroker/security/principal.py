"""Principals in Kafka's form: a type and a name, written ``User:alice``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    type: str
    name: str

    def __str__(self) -> str:
        return f"{self.type}:{self.name}"

    @classmethod
    def parse(cls, text: str) -> Principal:
        """``User:alice`` -> Principal("User", "alice"); raises ValueError without a type."""
        kind, sep, name = text.partition(":")
        if not sep or not kind or not name:
            raise ValueError(f"principal {text!r} is not of the form Type:name (e.g. User:alice)")
        return cls(kind, name)

    @classmethod
    def user(cls, name: str) -> Principal:
        return cls("User", name)


# The principal of a connection that has not authenticated (a PLAINTEXT listener), as in Kafka.
ANONYMOUS = Principal("User", "ANONYMOUS")
