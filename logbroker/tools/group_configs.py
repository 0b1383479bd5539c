"""``logbroker groups configs``: a group's own configs (ConfigResource type GROUP), described and
altered as kafka-configs does with ``--entity-type groups``: DescribeConfigs lists every group config
with its value and where it comes from (the group's own, or the broker default), and
IncrementalAlterConfigs sets or deletes them one by one, the others untouched."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient
from kafka import errors as kafka_errors
from kafka.admin import AlterConfigOp, ConfigResource, ConfigResourceType

from logbroker.tools.errors import ToolError, explain
from logbroker.tools.topics import broker_outcome

_OWN_SOURCE = "DYNAMIC_GROUP_CONFIG"  # kafka-python's name of ConfigSource 8, a group's own value


@dataclass(frozen=True, slots=True)
class GroupConfig:
    name: str
    value: str | None
    own: bool  # set on the group (else the broker's default)

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "source": "group" if self.own else "default"}


def describe_group_configs(admin: KafkaAdminClient, group: str) -> list[GroupConfig]:
    """Every group config of ``group``, sorted by name."""
    try:
        found = admin.describe_configs([ConfigResource(ConfigResourceType.GROUP, group)], config_filter="all")
    except kafka_errors.KafkaError as exc:
        raise ToolError(f"cannot describe the configs of group {group!r}: {explain(exc)}") from None
    entries = found.get("group", {}).get(group, {})
    return [GroupConfig(name, e.get("value"), e.get("config_source") == _OWN_SOURCE)
            for name, e in sorted(entries.items())]


def alter_group_configs(admin: KafkaAdminClient, group: str, set_configs: dict[str, str],
                        delete_configs: list[str]) -> list[str]:
    """Set and delete configs of ``group`` in one IncrementalAlterConfigs; one line per change."""
    if not set_configs and not delete_configs:
        raise ToolError("nothing to alter: give --set KEY=VALUE or --delete KEY")
    changes: dict[str, Any] = {k: (AlterConfigOp.SET, v) for k, v in set_configs.items()}
    changes.update({k: (AlterConfigOp.DELETE, None) for k in delete_configs})
    try:
        result = admin.alter_configs([ConfigResource(ConfigResourceType.GROUP, group, configs=changes)],
                                     raise_on_unknown=False)
    except (ValueError, kafka_errors.KafkaError) as exc:
        detail = explain(exc) if isinstance(exc, kafka_errors.KafkaError) else str(exc)
        raise ToolError(f"cannot alter the configs of group {group!r}: {detail}") from None
    outcome = result.get("group", {}).get(group, "OK")
    if outcome != "OK":
        raise ToolError(f"cannot alter the configs of group {group!r}: {broker_outcome(outcome)}")
    return [f"set {k}={v}" for k, v in set_configs.items()] + [f"deleted {k}" for k in delete_configs]
