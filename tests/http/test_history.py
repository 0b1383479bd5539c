"""history.History and Histogram.quantile, without a broker."""

from __future__ import annotations

from logbroker.http.history import MAX_LAG_PARTITIONS, Counters, History
from logbroker.metrics import Histogram


def _counters(n: int, out: int = 0) -> Counters:
    return Counters(n * 10, n, out, 0, {"t": n * 10}, {"t": n}, {"t": out})


def test_rates_are_per_second_between_samples_and_bounded() -> None:
    h = History(interval_ms=1000, window=3)
    h.sample(0, _counters(0))
    assert not h.rates  # the first sample is the baseline
    h.sample(2000, _counters(100, out=50))
    assert h.rates[-1].records_in == 50 and h.rates[-1].bytes_in == 500 and h.rates[-1].bytes_out == 25
    assert h.topic_rates["t"].records_in == 50
    for i in range(2, 10):
        h.sample(i * 1000 + 1000, _counters(100 + i))
    assert len(h.rates) == 3 and h.rates[-1].records_in == 1


def test_a_counter_going_down_is_a_restart_not_a_negative_rate() -> None:
    h = History()
    h.sample(0, _counters(100))
    h.sample(1000, _counters(5))
    assert h.rates[-1].records_in == 0


def test_lag_history_per_group_is_bounded_and_forgets_deleted_groups() -> None:
    h = History(window=2)
    many = [("t", p, p) for p in range(MAX_LAG_PARTITIONS + 10)]
    h.sample_lag(1, [("g", many), ("other", [("t", 0, None)])])
    h.sample_lag(2, [("g", many)])
    h.sample_lag(3, [("g", many)])
    g = h.groups["g"]
    assert len(g.partitions) == MAX_LAG_PARTITIONS and len(g.samples) == 2
    assert g.samples[-1].total == sum(range(MAX_LAG_PARTITIONS + 10))
    assert "other" not in h.groups


def test_quantiles_interpolate_inside_buckets() -> None:
    hist = Histogram()
    assert hist.quantile(0.5) is None
    for _ in range(100):
        hist.observe(0.002)  # bucket (0.001, 0.005]
    q50 = hist.quantile(0.5)
    assert q50 is not None and 0.001 < q50 <= 0.005
    hist.observe(100.0)
    assert hist.quantile(1.0) == 10.0 and hist.count == 101
