"""The states a group can be in, for both kinds of group, by Kafka's names.

Kafka's admin ``GroupState`` (KIP-1043) is one set for every group type: a classic group moves
through Empty, PreparingRebalance, CompletingRebalance and Stable; a consumer-protocol group
(KIP-848) through Empty, Assigning, Reconciling and Stable; both end in Dead. ListGroups,
DescribeGroups, ConsumerGroupDescribe and the HTTP front report ``value``.
"""

from __future__ import annotations

import enum

CLASSIC = "classic"  # group type of JoinGroup/SyncGroup groups (ListGroups v5 types_filter)
CONSUMER = "consumer"  # group type of ConsumerGroupHeartbeat groups (KIP-848) and HTTP member groups


class GroupState(enum.Enum):
    EMPTY = "Empty"
    PREPARING_REBALANCE = "PreparingRebalance"  # classic
    COMPLETING_REBALANCE = "CompletingRebalance"  # classic
    ASSIGNING = "Assigning"  # consumer protocol
    RECONCILING = "Reconciling"  # consumer protocol
    STABLE = "Stable"
    DEAD = "Dead"
