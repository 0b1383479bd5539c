"""A share group told the way every group is (``description.GroupDescription``): ListGroups,
DescribeGroups, ShareGroupDescribe and the HTTP front's group routes read it."""

from __future__ import annotations

from logbroker.groups.description import GroupDescription, MemberDescription
from logbroker.groups.share_group import SHARE, ShareGroup

SHARE_ASSIGNOR = "simple"  # Kafka's share-group assignor name


def describe_share_group(group: ShareGroup) -> GroupDescription:
    members = tuple(
        MemberDescription(m.member_id, None, m.client_id, m.client_host, m.assignment, m.assignment,
                          member_epoch=m.member_epoch, rack_id=m.rack_id, subscribed_topics=m.subscribed_topics,
                          member_state="stable")
        for m in group.members.values())
    return GroupDescription(group.group_id, SHARE, group.state(), SHARE, SHARE_ASSIGNOR, group.group_epoch, members,
                            group.group_epoch)
