"""The broker process wiring: the file handle budget taken from the open-file limit."""

from __future__ import annotations

from logbroker.app import handle_budget


def test_the_handle_budget_keeps_a_reserve() -> None:
    assert handle_budget(1024) == (768, 256)
    assert handle_budget(128) == (64, 64)
    assert handle_budget(1 << 20) == ((1 << 20) - 4096, 4096)
