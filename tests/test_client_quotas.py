"""logbroker/client_quotas.py: the store's plan, its file, and a cluster's refusal."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from logbroker.client_quotas import CLUSTER_REFUSAL, ClientQuotaStore, QuotaAlteration, QuotaOp, describe


def _set(user: str | None, key: str, value: float) -> QuotaAlteration:
    return QuotaAlteration((("user", user),), (QuotaOp(key, value, False),))


def test_quotas_survive_a_reopen(tmp_path: Path) -> None:
    store = ClientQuotaStore(tmp_path)
    quotas, results = store.plan([_set("alice", "producer_byte_rate", 1024), _set(None, "consumer_byte_rate", 5)])
    assert [refusal for _, refusal in results] == [None, None]
    store.save(quotas)
    reopened = ClientQuotaStore(tmp_path)
    assert reopened.quotas() == {(("user", "alice"),): {"producer_byte_rate": 1024.0},
                                 (("user", None),): {"consumer_byte_rate": 5.0}}
    assert describe(reopened.quotas(), [("user", 1, None)], strict=False) == {(("user", None),):
                                                                            {"consumer_byte_rate": 5.0}}


def test_a_refused_entity_changes_nothing_while_the_others_apply(tmp_path: Path) -> None:
    store = ClientQuotaStore(tmp_path)
    bad = QuotaAlteration((("user", "bob"),), (QuotaOp("producer_byte_rate", 1, False),
                                               QuotaOp("consumer_byte_rate", 1.5, False)))
    quotas, results = store.plan([bad, _set("carol", "request_percentage", 2.5)])
    assert [refusal for _, refusal in results] == ["consumer_byte_rate cannot be a fractional value.", None]
    assert quotas == {(("user", "carol"),): {"request_percentage": 2.5}}


def test_a_broker_of_a_cluster_stores_no_quota(tmp_path: Path) -> None:
    store = ClientQuotaStore(tmp_path, clustered=True)
    quotas, results = store.plan([_set("alice", "producer_byte_rate", 1024)])
    assert [refusal for _, refusal in results] == [CLUSTER_REFUSAL] and quotas == {}


def test_alterations_at_once_all_apply(tmp_path: Path) -> None:
    store = ClientQuotaStore(tmp_path)
    users = [f"u{i}" for i in range(16)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda u: store.alter([_set(u, "producer_byte_rate", 1)], False), users))
    assert all(error is None for results in answers for _, error in results)
    assert set(ClientQuotaStore(tmp_path).quotas()) == {(("user", u),) for u in users}
