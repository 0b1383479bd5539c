"""Kafka's action-flag command lines, rewritten as ``logbroker`` subcommand command lines.

kafka-topics.sh and kafka-consumer-groups.sh take the action as a flag (``--create``, ``--describe``,
``--reset-offsets``...) and the object as an option (``--topic T``, ``--group G``); ``logbroker
topics`` and ``logbroker groups`` take a subcommand and positional names. ``translate`` maps the
first form onto the second, so one implementation serves both and a script written for Kafka's
tools runs with the command name swapped:

    logbroker topics --bootstrap-server B --create --topic T --partitions 3
      -> logbroker topics create T --bootstrap-server B --partitions 3
    logbroker groups --reset-offsets --group G --to-earliest --all-topics --execute
      -> logbroker groups reset-offsets G --to-earliest --all-topics --execute

Every other option passes through unchanged (the subcommand then validates it, so an option
Kafka has and logbroker lacks is a usage error naming it). Pure functions: argv in, argv out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


class ArgvError(ValueError):
    """A Kafka-style command line that cannot be mapped (no action, or more than one)."""


@dataclass(frozen=True, slots=True)
class ActionStyle:
    """One Kafka tool's command-line shape.

    ``actions``: action flag -> subcommand. ``name_option``: the option whose values become the
    subcommand's positional names (comma-separated values split, as Kafka's include lists do).
    ``renames``: per subcommand, Kafka option -> logbroker option, or None to drop a flag that only
    restates logbroker's default. ``name_as_option``: subcommands that take the names as
    ``name_option`` itself rather than as positionals (e.g. ``topics list --topic REGEX``).
    """

    tool: str
    actions: Mapping[str, str]
    name_option: str
    renames: Mapping[str, Mapping[str, str | None]] = field(default_factory=dict)
    name_as_option: frozenset[str] = frozenset()
    kafka_output: Mapping[str, tuple[str, str]] = field(default_factory=dict)


TOPICS = ActionStyle(
    tool="kafka-topics",
    actions={"--list": "list", "--describe": "describe", "--create": "create", "--alter": "alter",
             "--delete": "delete"},
    name_option="--topic",
    # kafka-topics' own --alter changes only partitions; older releases also took --config and
    # --delete-config there, which map onto logbroker's incremental --set/--delete.
    renames={"alter": {"--config": "--set", "--delete-config": "--delete"}},
    name_as_option=frozenset({"list"}),
)

GROUPS = ActionStyle(
    tool="kafka-consumer-groups",
    actions={"--list": "list", "--describe": "describe", "--reset-offsets": "reset-offsets", "--delete": "delete"},
    name_option="--group",
    # --offsets is kafka-consumer-groups' default describe view, which is logbroker's only one.
    renames={"describe": {"--offsets": None}},
    # kafka-consumer-groups --list prints bare group ids; --list --state adds the state (logbroker's table).
    kafka_output={"list": ("--ids-only", "--state")},
)


HELP_FLAGS = ("-h", "--help")


def is_action_style(args: Sequence[str], style: ActionStyle, subcommands: Sequence[str]) -> bool:
    """True when ``args`` start with an option rather than a subcommand (Kafka's tools take options
    only), except a bare help flag, which stays the group's own."""
    if not args or args[0] in subcommands or args[0] in HELP_FLAGS:
        return False
    return args[0].startswith("--") or any(arg in style.actions for arg in args)


def translate(args: Sequence[str], style: ActionStyle) -> list[str]:
    """The subcommand argv for a Kafka-style ``args``; ArgvError when there is not exactly one action."""
    found = [arg for arg in args if arg in style.actions]
    if not found and any(arg in HELP_FLAGS for arg in args):
        return ["--help"]
    if len(found) != 1:
        flags = ", ".join(style.actions)
        given = f" (got {', '.join(found)})" if found else ""
        raise ArgvError(f"{style.tool} style: give exactly one of {flags}{given}")
    subcommand = style.actions[found[0]]
    renames = dict(style.renames.get(subcommand, {}))
    output = style.kafka_output.get(subcommand)
    if output is not None:
        renames[output[1]] = None
        if output[1] not in args:
            args = [*args, output[0]]
    names: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == found[0]:
            continue
        flag, has_inline, inline = arg.partition("=")
        if flag == style.name_option and arg.startswith("--"):
            if has_inline:
                value = inline
            elif i < len(args):
                value = args[i]
                i += 1
            else:
                raise ArgvError(f"{style.name_option} needs a value")
            names += [part.strip() for part in value.split(",") if part.strip()]
            continue
        if flag in renames:
            new = renames[flag]
            if new is not None:
                rest.append(new + (f"={inline}" if has_inline else ""))
            continue
        rest.append(arg)
    if subcommand in style.name_as_option:
        return [subcommand, *rest, *(x for name in names for x in (style.name_option, name))]
    # After "--" a name is never taken for an option, whatever it starts with.
    return [subcommand, *rest, "--", *names] if names else [subcommand, *rest]
