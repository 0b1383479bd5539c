"""Group configs (resource type 32, KIP-848/KIP-932) in DescribeConfigs and IncrementalAlterConfigs:
the names, types and bounds of ``logbroker/groups/group_configs.py``, of a group of any type, kept
by ``logbroker.groups.shares.ShareGroups``: alone durably in ``__share_group_state``, in a cluster
in ZooKeeper (``logbroker/group_configs_zookeeper.py``), described and altered on any broker.
``configs.py`` hands group resources here.
"""

from __future__ import annotations

from logbroker.errors import ClusterStateUnavailableError
from logbroker.groups.group_configs import GROUP_CONFIG_TYPES
from logbroker.kafka.error_codes import ErrorCode
from logbroker.kafka.handlers import Body, RequestContext

GROUP = 32
_SOURCE_GROUP = 8  # Kafka's ConfigSource GROUP_CONFIG
_SOURCE_DEFAULT = 5
_SET, _DELETE = 0, 1  # IncrementalAlterConfigs operations handled for groups


async def describe_group_configs(ctx: RequestContext, group_id: str, keys: list[str] | None,
                                 with_synonyms: bool = False) -> Body:
    """The ``error_code``/``error_message``/``configs`` of one DescribeConfigs result."""
    if ctx.coordinator is None:
        return {"error_code": ErrorCode.COORDINATOR_NOT_AVAILABLE, "error_message": "no group coordinator"}
    share = ctx.coordinator.share
    try:
        overrides = await share.describe_configs(group_id)
    except ClusterStateUnavailableError as exc:
        return {"error_code": ErrorCode.REQUEST_TIMED_OUT, "error_message": str(exc)}
    out: list[Body] = []
    for name, default in ctx.coordinator.group_config_defaults().items():
        if keys and name not in keys:
            continue
        explicit = name in overrides
        value = overrides.get(name, default)
        source = _SOURCE_GROUP if explicit else _SOURCE_DEFAULT
        # Kafka 4.1 lists one synonym, the row itself (the group's value, or the group default).
        synonyms = [{"name": name, "value": value, "source": source}] if with_synonyms else []
        out.append({"name": name, "value": value, "read_only": False, "is_default": not explicit,
                    "config_source": source, "is_sensitive": False, "synonyms": synonyms,
                    "config_type": int(GROUP_CONFIG_TYPES[name]), "documentation": None})
    return {"configs": out}


async def alter_group_configs(ctx: RequestContext, group_id: str, ops: list[Body], validate_only: bool) -> Body:
    """The ``error_code``/``error_message`` of one IncrementalAlterConfigs result."""
    if ctx.coordinator is None:
        return {"error_code": ErrorCode.COORDINATOR_NOT_AVAILABLE, "error_message": "no group coordinator"}
    changes: dict[str, str | None] = {}
    for op in ops:
        if op["config_operation"] not in (_SET, _DELETE):
            return {"error_code": ErrorCode.INVALID_REQUEST,
                    "error_message": "group configs support SET and DELETE only"}
        changes[op["name"]] = op.get("value") if op["config_operation"] == _SET else None
    code, message = await ctx.coordinator.alter_group_configs(group_id, changes, ctx.broker.clock(),
                                                              validate_only=validate_only)
    return {"error_code": code, "error_message": message}
