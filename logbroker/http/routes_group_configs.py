"""A group's configs over HTTP, the same as DescribeConfigs and IncrementalAlterConfigs on the GROUP
resource (``logbroker/groups/group_configs.py`` names them and their bounds)::

    GET   /groups/{group}/configs   {"group_id", "configs": [{"name", "value", "default", "source"}]}
    PATCH /groups/{group}/configs   {"set"?: {name: value}, "delete"?: [name], "validate_only"?: bool}
                                    -> the same answer as GET, after the change

``source`` is ``GROUP_CONFIG`` for a value the group set, else ``DEFAULT_CONFIG`` (the broker's
``group.*`` property, ``default``). Any group id may be configured, held by a group or not (a group
made later under it follows the configs), as Kafka does. Reading needs DESCRIBE_CONFIGS on the group,
changing ALTER_CONFIGS. An unknown name or a value out of bounds answers 400 ``INVALID_CONFIG`` and
changes nothing; in a cluster, 503 ``REQUEST_TIMED_OUT`` while ZooKeeper cannot be reached.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from logbroker.groups.coordinator import GroupCoordinator
from logbroker.groups.errors import HeartbeatError
from logbroker.groups.group_configs import INVALID_CONFIG, config_problem
from logbroker.groups.shares import REQUEST_TIMED_OUT
from logbroker.http.access import Op, require_group
from logbroker.http.content import read_body, respond
from logbroker.http.context import context, coordinator
from logbroker.http.errors import HttpError
from logbroker.http.params import body_object, config_changes

log = logging.getLogger(__name__)

routes = web.RouteTableDef()


async def _described(group_id: str, groups: GroupCoordinator) -> dict[str, Any]:
    own = await groups.share.describe_configs(group_id)
    configs = [{"name": name, "value": own.get(name, default), "default": default,
                "source": "GROUP_CONFIG" if name in own else "DEFAULT_CONFIG"}
               for name, default in sorted(groups.group_config_defaults().items())]
    return {"group_id": group_id, "configs": configs}


@routes.get("/groups/{group}/configs", allow_head=False)
async def describe_group_configs(request: web.Request) -> web.Response:
    group_id = request.match_info["group"]
    require_group(request, Op.DESCRIBE_CONFIGS, group_id)
    return respond(request, await _described(group_id, coordinator(request)))


@routes.patch("/groups/{group}/configs")
async def alter_group_configs(request: web.Request) -> web.Response:
    group_id = request.match_info["group"]
    require_group(request, Op.ALTER_CONFIGS, group_id)
    groups = coordinator(request)
    to_set, to_delete, validate_only = config_changes(body_object(await read_body(request)))
    # A name both set and deleted is deleted; its set value is still checked, not dropped unseen.
    overlap = {name: to_set[name] for name in to_delete if name in to_set}
    problem = config_problem(overlap, groups.share.settings.config_bounds) if overlap else None
    if problem is not None:
        raise HttpError(400, "INVALID_CONFIG", problem)
    changes: dict[str, str | None] = {**to_set, **{name: None for name in to_delete}}
    code, message = (await groups.alter_group_configs(group_id, changes, context(request).clock(),
                                                      validate_only=validate_only)
                     if changes else (0, None))  # nothing named: nothing to change (as Kafka answers)
    if code == INVALID_CONFIG:
        raise HttpError(400, "INVALID_CONFIG", message or "invalid group config")
    if code == REQUEST_TIMED_OUT:
        raise HttpError(503, "REQUEST_TIMED_OUT", message or "the cluster's group configs could not be reached")
    if code:
        name = HeartbeatError(code).name if code in tuple(HeartbeatError) else str(code)
        raise HttpError(503, name, message or "the group configs were not changed")
    if not validate_only:
        log.info("group %s configs changed over HTTP from %s: set %s, delete %s", group_id, request.remote,
                 to_set, to_delete)
    return respond(request, {**await _described(group_id, groups), "validate_only": validate_only})
