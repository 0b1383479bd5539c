"""Kafka's action-flag command lines mapped onto ``logbroker`` subcommands, without a broker."""

from __future__ import annotations

import pytest

from logbroker.tools.kafka_argv import GROUPS, TOPICS, ArgvError, is_action_style, translate

B = ["--bootstrap-server", "h:1"]


@pytest.mark.parametrize(("kafka", "ours"), [
    ([*B, "--list"], ["list", *B]),
    ([*B, "--list", "--topic", "orders.*"], ["list", *B, "--topic", "orders.*"]),
    ([*B, "--describe"], ["describe", *B]),
    ([*B, "--describe", "--topic", "a,b"], ["describe", *B, "--", "a", "b"]),
    (["--create", "--topic=t", *B, "--partitions", "3", "--config", "retention.ms=1"],
     ["create", *B, "--partitions", "3", "--config", "retention.ms=1", "--", "t"]),
    ([*B, "--alter", "--topic", "t", "--partitions", "6"], ["alter", *B, "--partitions", "6", "--", "t"]),
    ([*B, "--alter", "--topic", "t", "--config", "a=1", "--delete-config", "b"],
     ["alter", *B, "--set", "a=1", "--delete", "b", "--", "t"]),
    ([*B, "--delete", "--topic", "-odd", "--if-exists"], ["delete", *B, "--if-exists", "--", "-odd"]),
])
def test_topics(kafka: list[str], ours: list[str]) -> None:
    assert is_action_style(kafka, TOPICS, ["list", "create"])
    assert translate(kafka, TOPICS) == ours


@pytest.mark.parametrize(("kafka", "ours"), [
    ([*B, "--list"], ["list", *B, "--ids-only"]),
    ([*B, "--list", "--state"], ["list", *B]),
    ([*B, "--describe", "--group", "g", "--offsets"], ["describe", *B, "--", "g"]),
    ([*B, "--reset-offsets", "--group", "g", "--topic", "t", "--to-earliest", "--execute"],
     ["reset-offsets", *B, "--topic", "t", "--to-earliest", "--execute", "--", "g"]),
    ([*B, "--delete", "--group", "a", "--group", "b"], ["delete", *B, "--", "a", "b"]),
])
def test_groups(kafka: list[str], ours: list[str]) -> None:
    assert translate(kafka, GROUPS) == ours


def test_subcommand_style_is_left_alone() -> None:
    assert not is_action_style(["create", "t", "--partitions", "3"], TOPICS, ["create"])
    assert not is_action_style(["--help"], TOPICS, ["create"])
    assert not is_action_style([], TOPICS, ["create"])
    assert is_action_style([*B, "--topic", "t"], TOPICS, ["create"])  # Kafka style without an action


def test_exactly_one_action() -> None:
    with pytest.raises(ArgvError, match="give exactly one of --list, --describe"):
        translate([*B, "--topic", "t"], TOPICS)
    with pytest.raises(ArgvError, match=r"\(got --list, --describe\)"):
        translate([*B, "--list", "--describe"], TOPICS)
    with pytest.raises(ArgvError, match="--group needs a value"):
        translate(["--describe", "--group"], GROUPS)
    assert translate([*B, "--help"], TOPICS) == ["--help"]
