"""The ``logbroker`` command: ``serve`` starts a broker; ``produce``, ``consume``, ``topics`` and
``groups`` are console tools in the style of Kafka's, talking to any Kafka cluster.

This is the only module that prints; everything below it logs or returns lines to print.
"""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO, TypeVar

import click

from logbroker import __version__
from logbroker.security.scram_store import MECHANISMS as SCRAM_MECHANISMS
from logbroker.tools import kafka_argv
from logbroker.tools.kafka_argv import ActionStyle
from logbroker.tools.output import Progress, RecordFields, render_table, to_json
from segments.errors import StorageError

if TYPE_CHECKING:
    from logbroker.tools.clients import ClientSettings

# The console tools' modules (and through them kafka-python) are imported by the commands that use
# them, not here: `serve` never loads a Kafka client library, so a broker starts sooner.

def _host_port(value: str, option: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise click.BadParameter(f"expected HOST:PORT, got {value!r}", param_hint=option)
    return host.strip("[]") or "127.0.0.1", int(port)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="logbroker")
def main() -> None:
    """logbroker: a Kafka-style commit-log broker."""


@main.command()
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="Directory holding topic partitions, checkpoints and group state "
                   "[default: log.dirs from --config, else ./data].")
@click.option("--kafka-listen", default=None,
              help="HOST:PORT of the Kafka protocol listener [default: listeners from --config, else 127.0.0.1:9092].")
@click.option("--http-listen", default="127.0.0.1:8082", show_default=True,
              help="HOST:PORT of the HTTP API.")
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="A Kafka server.properties file (listeners, advertised.listeners, log.dirs are honoured).")
@click.option("--override", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Set a broker property (Kafka's names, e.g. num.partitions=4); repeatable.")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
@click.option("--ready-file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Once both listeners are bound, write their ports here as JSON "
                   '({"kafka_port": P, "http_port": Q}); with port 0 this is how to learn them.')
def serve(data_dir: Path | None, kafka_listen: str | None, http_listen: str, config_file: Path | None,
          overrides: tuple[str, ...], log_level: str, ready_file: Path | None) -> None:
    """Start a broker on this machine."""
    from logbroker.app import App, AppSettings
    from logbroker.config import BrokerConfig, parse_overrides
    from logbroker.listeners import resolve

    logging.basicConfig(level=log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    listen = _host_port(kafka_listen, "--kafka-listen") if kafka_listen is not None else None
    http = _host_port(http_listen, "--http-listen")
    try:
        config = BrokerConfig.load(config_file, parse_overrides(overrides))
        network = resolve(config, kafka_listen=listen, data_dir=data_dir)
    except StorageError as exc:
        raise click.ClickException(str(exc)) from exc
    settings = AppSettings(data_dir=network.data_dir, kafka_listen=network.listen, http_listen=http,
                           config=config, advertised=network.advertised, ready_file=ready_file,
                           listeners=network.listeners, inter_broker_listener=network.inter_broker_listener)
    try:
        App(settings).run()
    except StorageError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"cannot start: {exc}") from exc


@main.command()
@click.option("--data-dir", type=click.Path(path_type=Path), default=Path("./cluster-data"), show_default=True,
              help="Directory for ZooKeeper's and every broker's data and logs.")
@click.option("--brokers", type=click.IntRange(min=1, max=9), default=3, show_default=True,
              help="How many brokers (ids 1..N).")
@click.option("--zookeeper-port", type=int, default=2181, show_default=True, help="ZooKeeper's port on 127.0.0.1.")
@click.option("--kafka-port", type=int, default=9092, show_default=True,
              help="Kafka port of broker 1; broker i listens on this + i - 1.")
@click.option("--http-port", type=int, default=8082, show_default=True,
              help="HTTP port of broker 1; broker i listens on this + i - 1.")
@click.option("--override", "overrides", multiple=True, metavar="KEY=VALUE",
              help="A broker property for every broker (Kafka's names); repeatable.")
def cluster(data_dir: Path, brokers: int, zookeeper_port: int, kafka_port: int, http_port: int,
            overrides: tuple[str, ...]) -> None:
    """Run a local ZooKeeper and a cluster of brokers on 127.0.0.1 until Ctrl-C (development)."""
    from logbroker.cluster.local import LocalCluster
    from logbroker.cluster.zkserver import available
    from logbroker.config import parse_overrides

    missing = available()
    if missing is not None:
        raise click.ClickException(missing)
    try:
        props = parse_overrides(overrides)
    except StorageError as exc:
        raise click.ClickException(str(exc)) from exc
    local = LocalCluster(data_dir, brokers, zookeeper_port, kafka_port, http_port, overrides=props)
    try:
        local.start()
        click.echo(f"ZooKeeper on 127.0.0.1:{zookeeper_port}; {brokers} broker(s): --bootstrap-server "
                   f"{local.bootstrap}; logs in {data_dir}/broker<i>.log. Ctrl-C stops them.")
        local.wait()
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        local.stop()


# --- console tools -------------------------------------------------------------------------------

F = TypeVar("F", bound=Callable[..., Any])
FORMATS = click.Choice(["text", "json"])


_SECURITY = "logbroker.client_security"  # ctx.meta key: the kafka-python settings of the config file


def _load_client_config(ctx: click.Context, param: click.Parameter, value: Path | None) -> None:
    """Read a client properties file as soon as it is parsed: a bad file is a usage error (exit 2)."""
    if value is None:
        return
    from logbroker.tools import client_config

    if _SECURITY in ctx.meta:
        raise click.UsageError("give one client properties file (--command-config, --producer.config or "
                               "--consumer.config)", ctx)
    try:
        ctx.meta[_SECURITY] = client_config.load(value)
    except client_config.ClientConfigError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


def _config_file_option(*decls: str, name: str) -> Callable[[F], F]:
    return click.option(*decls, name, type=click.Path(path_type=Path, dir_okay=False), default=None,
                        expose_value=False, is_eager=False, callback=_load_client_config, metavar="FILE",
                        help="A Kafka client properties file: security.protocol, ssl.*, sasl.* (TLS and SASL "
                             "listeners; see docs/CLI.md).")


def _client_options(fn: F) -> F:
    """The options every tool shares: where the cluster is, how to connect and authenticate, how long
    to wait for it, how chatty to be."""
    fn = click.option("--verbose", "-v", is_flag=True, help="Show the Kafka client's own log lines.")(fn)
    fn = _config_file_option("--command-config", name="command_config")(fn)
    fn = click.option("--command-timeout-ms", "timeout_ms", type=click.IntRange(min=100), default=10_000,
                      show_default=True, help="How long to wait for the cluster before giving up.")(fn)
    fn = click.option("--bootstrap-server", "bootstrap", default="localhost:9092", show_default=True,
                      envvar="LOGBROKER_BOOTSTRAP_SERVER", metavar="HOST:PORT[,HOST:PORT]",
                      help="Brokers to bootstrap from (any Kafka cluster works); env LOGBROKER_BOOTSTRAP_SERVER.")(fn)
    return fn


@contextmanager
def _tool_session(verbose: bool) -> Iterator[None]:
    """Quiet kafka-python's logging unless asked, and turn tool and client errors into one line, exit 1."""
    from kafka import errors as kafka_errors

    from logbroker.tools import read_before_close
    from logbroker.tools.errors import ToolError, explain

    read_before_close.install()
    logging.basicConfig(level=logging.INFO if verbose else logging.CRITICAL, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.INFO if verbose else logging.CRITICAL)
    try:
        yield
    except ToolError as exc:
        raise click.ClickException(str(exc)) from None
    except kafka_errors.KafkaError as exc:
        raise click.ClickException(explain(exc)) from None
    except OSError as exc:
        raise click.ClickException(str(exc)) from None


def _settings(bootstrap: str, timeout_ms: int) -> ClientSettings:
    from logbroker.tools.clients import ClientSettings

    security = click.get_current_context().meta.get(_SECURITY, {})
    return ClientSettings(bootstrap_servers=bootstrap, timeout_ms=timeout_ms, security=security)


def _stderr_progress(enabled: bool, unit: str = "records") -> Progress:
    return Progress(lambda text: click.echo(text, err=True, nl=False), enabled=enabled, unit=unit)


def _is_tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _lines_of(stream: BinaryIO) -> Iterator[bytes]:
    yield from stream


def _header_pairs(values: tuple[str, ...]) -> list[tuple[str, str]]:
    """``--header k=v`` values in order; a key may repeat, as Kafka headers allow."""
    out = []
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--header")
        out.append((key, value))
    return out


def _echo_lines(lines: list[str]) -> None:
    for line in lines:
        click.echo(line)


def _pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    from logbroker.tools import topics as topic_tools
    from logbroker.tools.errors import ToolError

    try:
        return topic_tools.parse_assignments(values, option)
    except ToolError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


def _one_topic(positional: str | None, option: tuple[str, ...]) -> str:
    """The topic of ``produce``: given as an argument or, Kafka's way, as ``--topic``; exactly one."""
    given = ([positional] if positional else []) + list(option)
    if len(given) != 1:
        raise click.UsageError("give exactly one topic (as an argument or with --topic)")
    return given[0]


def _properties(values: tuple[str, ...]) -> dict[str, str]:
    from logbroker.tools.errors import ToolError
    from logbroker.tools.properties import parse_properties

    try:
        return parse_properties(values)
    except ToolError as exc:
        raise click.BadParameter(str(exc), param_hint="--property") from None


@main.command()
@click.argument("topic", required=False)
@_client_options
@_config_file_option("--producer.config", name="producer_config")
@click.option("--topic", "topic_option", multiple=True, metavar="TOPIC",
              help="The topic (kafka-console-producer's way).")
@click.option("--file", "input_file", type=click.File("rb"), default=None,
              help="Read records from this file instead of stdin.")
@click.option("--key-separator", default=None, metavar="SEP",
              help="Split each line at the first SEP into key and value (same as --property parse.key=true "
                   "--property key.separator=SEP).")
@click.option("--property", "properties", multiple=True, metavar="KEY=VALUE",
              help="A kafka-console-producer line reader property: parse.key, key.separator, parse.headers, "
                   "headers.delimiter, headers.separator, headers.key.separator, null.marker, ignore.error; "
                   "repeatable.")
@click.option("--partition", type=click.IntRange(min=0), default=None, help="Send every record to this partition.")
@click.option("--acks", "--request-required-acks", "acks", type=click.Choice(["0", "1", "all", "-1"]),
              default="all", show_default=True,
              help="Acknowledgements to wait for; all (or -1) keeps the idempotent producer on.")
@click.option("--compression", "--compression-codec", "compression",
              type=click.Choice(["none", "gzip", "snappy", "lz4", "zstd"]), default="none", show_default=True)
@click.option("--header", "headers", multiple=True, metavar="KEY=VALUE",
              help="Add a header to every record; repeatable.")
def produce(topic: str | None, bootstrap: str, timeout_ms: int, verbose: bool, topic_option: tuple[str, ...],
            input_file: BinaryIO | None, key_separator: str | None, properties: tuple[str, ...],
            partition: int | None, acks: str, compression: str, headers: tuple[str, ...]) -> None:
    """Send one record per line of stdin (or --file) to TOPIC.

    \b
      printf 'a\\nb\\n' | logbroker produce orders
      logbroker produce orders --key-separator : --file orders.txt --compression zstd
      logbroker produce --topic orders --property parse.key=true --property key.separator=:
    """
    from logbroker.tools.produce import ProduceOptions, produce_lines
    from logbroker.tools.properties import line_format

    name = _one_topic(topic, topic_option)
    header_pairs: tuple[tuple[str, bytes | None], ...] = tuple((k, v.encode()) for k, v in _header_pairs(headers))
    if key_separator == "":
        raise click.BadParameter("must not be empty", param_hint="--key-separator")
    props = _properties(properties)
    if key_separator is not None:
        props = {"parse.key": "true", "key.separator": key_separator, **props}
    with _tool_session(verbose):
        options = ProduceOptions(topic=name, line_format=line_format(props), partition=partition,
                                 acks="all" if acks == "-1" else acks, compression=compression,
                                 headers=header_pairs)
    source = input_file if input_file is not None else sys.stdin.buffer
    with _tool_session(verbose):
        summary = produce_lines(_settings(bootstrap, timeout_ms), options, _lines_of(source),
                                _stderr_progress(_is_tty(sys.stderr)))
    click.echo(summary.line(name), err=True)


@main.command()
@click.argument("topics", nargs=-1)
@_client_options
@_config_file_option("--consumer.config", name="consumer_config")
@click.option("--topic", "topic_option", multiple=True, metavar="TOPIC",
              help="A topic to read (kafka-console-consumer's way); repeatable.")
@click.option("--pattern", "--include", "pattern", default=None, metavar="REGEX",
              help="Read every topic whose whole name matches REGEX.")
@click.option("--group", default=None, help="Consume as this consumer group and commit its offsets.")
@click.option("--from-beginning", is_flag=True, help="Start at the log start when there is no committed offset.")
@click.option("--partition", type=click.IntRange(min=0), default=None, help="Read only this partition (no group).")
@click.option("--offset", default=None, metavar="earliest|latest|N",
              help="Where to start without a group; N needs --partition.  [default: latest]")
@click.option("--max-messages", type=click.IntRange(min=1), default=None, help="Exit after this many records.")
@click.option("--timeout-ms", "idle_timeout_ms", type=click.IntRange(min=1), default=None,
              help="Exit when no record arrived for this long.")
@click.option("--print-key", is_flag=True)
@click.option("--print-partition", is_flag=True)
@click.option("--print-offset", is_flag=True)
@click.option("--print-timestamp", is_flag=True)
@click.option("--print-headers", is_flag=True)
@click.option("--property", "properties", multiple=True, metavar="KEY=VALUE",
              help="A kafka-console-consumer formatter property: print.timestamp, print.partition, print.offset, "
                   "print.headers, print.key, print.value, key.separator, line.separator, headers.separator, "
                   "null.literal; repeatable.")
@click.option("--format", "output_format", type=FORMATS, default="text", show_default=True,
              help="text: the value (and the --print-* fields, tab-separated); json: one object per record.")
def consume(topics: tuple[str, ...], bootstrap: str, timeout_ms: int, verbose: bool, topic_option: tuple[str, ...],
            pattern: str | None, group: str | None, from_beginning: bool, partition: int | None, offset: str | None,
            max_messages: int | None, idle_timeout_ms: int | None, print_key: bool, print_partition: bool,
            print_offset: bool, print_timestamp: bool, print_headers: bool, properties: tuple[str, ...],
            output_format: str) -> None:
    """Print the records of TOPICS (or of --pattern) as they arrive; Ctrl-C stops with a summary.

    Values are written as their raw bytes. While the broker is unreachable (e.g. restarting) the
    consumer keeps retrying, like Kafka's; --timeout-ms still ends a run that receives nothing.

    \b
      logbroker consume orders --from-beginning --max-messages 10
      logbroker consume --pattern 'orders\\..*' --group audit --format json
      logbroker consume --topic orders --group audit --from-beginning --property print.key=true
    """
    from logbroker.tools.consume import ConsoleConsumer, ConsumeOptions
    from logbroker.tools.properties import formatter_fields

    if offset is not None and from_beginning:
        raise click.UsageError("--offset and --from-beginning are exclusive")
    start = offset if offset is not None else ("earliest" if from_beginning else "latest")
    props = _properties(properties)
    with _tool_session(verbose):
        fields = formatter_fields(props, RecordFields(timestamp=print_timestamp, partition=print_partition,
                                                      offset=print_offset, headers=print_headers, key=print_key))
    options = ConsumeOptions(topics=topics + topic_option, pattern=pattern, group=group, partition=partition,
                             offset=start, max_messages=max_messages, timeout_ms=idle_timeout_ms,
                             output_format=output_format, fields=fields)
    progress = _stderr_progress(_is_tty(sys.stderr) and not _is_tty(sys.stdout))
    out: BinaryIO = sys.stdout.buffer
    with _tool_session(verbose):
        session = ConsoleConsumer(_settings(bootstrap, timeout_ms), options,
                                  notice=lambda text: click.echo(text, err=True))

        def interrupted(signum: int, frame: FrameType | None) -> None:
            session.stop()

        previous = signal.signal(signal.SIGINT, interrupted)
        try:
            with session:
                for line in session.lines():
                    out.write(line)
                    out.flush()
                    progress.add()
        except BrokenPipeError:
            # The reader went away (e.g. `| head`): stop quietly, and keep Python from complaining at exit.
            sys.stdout = None
        finally:
            signal.signal(signal.SIGINT, previous)
            progress.finish()
    click.echo(session.summary(), err=True)


class KafkaStyleGroup(click.Group):
    """A command group that also takes its Kafka tool's action-flag form (``--create --topic T``),
    rewritten to the subcommand form by ``kafka_argv.translate`` before click parses it."""

    style: ActionStyle

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if kafka_argv.is_action_style(args, self.style, list(self.commands)):
            try:
                args = kafka_argv.translate(args, self.style)
            except kafka_argv.ArgvError as exc:
                raise click.UsageError(str(exc), ctx) from None
        return super().parse_args(ctx, args)


class TopicsGroup(KafkaStyleGroup):
    style = kafka_argv.TOPICS


class GroupsGroup(KafkaStyleGroup):
    style = kafka_argv.GROUPS


TOPICS_EPILOG = """\b
kafka-topics style works too (the action as a flag, the topic as --topic):
  logbroker topics --bootstrap-server B --list [--topic REGEX] [--exclude-internal]
  logbroker topics --bootstrap-server B --describe [--topic T]
  logbroker topics --bootstrap-server B --create --topic T [--partitions N] [--config K=V] [--if-not-exists]
  logbroker topics --bootstrap-server B --alter --topic T --partitions N
  logbroker topics --bootstrap-server B --delete --topic T [--if-exists]
"""

GROUPS_EPILOG = """\b
kafka-consumer-groups style works too (the action as a flag, the group as --group):
  logbroker groups --bootstrap-server B --list [--state]
  logbroker groups --bootstrap-server B --describe --group G
  logbroker groups --bootstrap-server B --reset-offsets --group G --topic T|--all-topics
        --to-earliest|--to-latest|--to-offset N|--shift-by N|--to-datetime ISO-8601 --execute|--dry-run
  logbroker groups --bootstrap-server B --delete --group G
"""


@main.group(cls=TopicsGroup, epilog=TOPICS_EPILOG)
def topics() -> None:
    """List, create, describe, alter and delete topics (like kafka-topics)."""


@topics.command("list")
@_client_options
@click.option("--exclude-internal", is_flag=True, help="Leave out internal topics such as __consumer_offsets.")
@click.option("--topic", "patterns", multiple=True, metavar="REGEX",
              help="Only names matching REGEX as a whole (kafka-topics --list --topic); repeatable.")
@click.option("--format", "output_format", type=FORMATS, default="text", show_default=True)
def topics_list(bootstrap: str, timeout_ms: int, verbose: bool, exclude_internal: bool, patterns: tuple[str, ...],
                output_format: str) -> None:
    """Topic names, one per line."""
    from logbroker.tools import clients
    from logbroker.tools import topics as topic_tools

    with _tool_session(verbose):
        admin = clients.admin_client(_settings(bootstrap, timeout_ms))
        try:
            names = topic_tools.list_topics(admin, exclude_internal, list(patterns))
        finally:
            admin.close()
    _echo_lines([to_json(names)] if output_format == "json" else names)


@topics.command("create")
@click.argument("name")
@_client_options
@click.option("--partitions", type=click.IntRange(min=1), default=None, help="[default: the broker's num.partitions]")
@click.option("--replication-factor", type=click.IntRange(min=1), default=None)
@click.option("--config", "configs", multiple=True, metavar="KEY=VALUE", help="A topic config; repeatable.")
@click.option("--if-not-exists", is_flag=True, help="Succeed quietly when the topic exists.")
def topics_create(name: str, bootstrap: str, timeout_ms: int, verbose: bool, partitions: int | None,
                  replication_factor: int | None, configs: tuple[str, ...], if_not_exists: bool) -> None:
    """Create topic NAME."""
    from logbroker.tools import clients
    from logbroker.tools import topics as topic_tools

    config = _pairs(configs, "--config")
    with _tool_session(verbose):
        admin = clients.admin_client(_settings(bootstrap, timeout_ms))
        try:
            created = topic_tools.create_topic(admin, name, partitions, replication_factor, config, if_not_exists)
        finally:
            admin.close()
    click.echo(f"Created topic {name}." if created else f"Topic {name} already exists.")


@topics.command("describe")
@click.argument("names", nargs=-1)
@_client_options
@click.option("--all-configs", is_flag=True, help="Show every config, not only those set on the topic.")
@click.option("--exclude-internal", is_flag=True)
@click.option("--format", "output_format", type=FORMATS, default="text", show_default=True)
def topics_describe(names: tuple[str, ...], bootstrap: str, timeout_ms: int, verbose: bool, all_configs: bool,
                    exclude_internal: bool, output_format: str) -> None:
    """Partitions (leader, replicas, log start and end offsets) and configs of NAMES (default: all topics)."""
    from logbroker.tools import clients
    from logbroker.tools import topics as topic_tools

    with _tool_session(verbose):
        admin = clients.admin_client(_settings(bootstrap, timeout_ms))
        try:
            infos = topic_tools.describe_topics(admin, list(names) or None, all_configs, exclude_internal)
        finally:
            admin.close()
    if output_format == "json":
        click.echo(to_json([info.as_json() for info in infos]))
        return
    for info in infos:
        _echo_lines(info.as_text())


@topics.command("alter")
@click.argument("name")
@_client_options
@click.option("--set", "set_configs", multiple=True, metavar="KEY=VALUE", help="Set a topic config; repeatable.")
@click.option("--delete", "delete_configs", multiple=True, metavar="KEY",
              help="Remove a topic config (back to the broker default); repeatable.")
@click.option("--partitions", type=click.IntRange(min=1), default=None, help="Grow the topic to this many partitions.")
def topics_alter(name: str, bootstrap: str, timeout_ms: int, verbose: bool, set_configs: tuple[str, ...],
                 delete_configs: tuple[str, ...], partitions: int | None) -> None:
    """Change the configs or the partition count of topic NAME."""
    from logbroker.tools import clients
    from logbroker.tools import topics as topic_tools

    changes = _pairs(set_configs, "--set")
    with _tool_session(verbose):
        admin = clients.admin_client(_settings(bootstrap, timeout_ms))
        try:
            done = topic_tools.alter_topic(admin, name, changes, list(delete_configs), partitions)
        finally:
            admin.close()
    click.echo(f"Altered topic {name}: {'; '.join(done)}.")


@topics.command("delete")
@click.argument("names", nargs=-1, required=True)
@_client_options
@click.option("--if-exists", is_flag=True, help="Skip topics that do not exist.")
def topics_delete(names: tuple[str, ...], bootstrap: str, timeout_ms: int, verbose: bool, if_exists: bool) -> None:
    """Delete topics NAMES and all their records."""
    from logbroker.tools import clients
    from logbroker.tools import topics as topic_tools

    with _tool_session(verbose):
        admin = clients.admin_client(_settings(bootstrap, timeout_ms))
        try:
            deleted = topic_tools.delete_topics(admin, list(names), if_exists)
        finally:
            admin.close()
    for name in deleted:
        click.echo(f"Deleted topic {name}.")


@main.group(cls=GroupsGroup, epilog=GROUPS_EPILOG)
def groups() -> None:
    """List, describe, reset the offsets of and delete consumer groups (like kafka-consumer-groups)."""


@groups.command("list")
@_client_options
@click.option("--ids-only", is_flag=True, help="Only the group ids, one per line (kafka-consumer-groups --list).")
@click.option("--format", "output_format", type=FORMATS, default="text", show_default=True)
def groups_list(bootstrap: str, timeout_ms: int, verbose: bool, ids_only: bool, output_format: str) -> None:
    """Consumer group ids with their state."""
    from logbroker.tools import clients
    from logbroker.tools import groups as group_tools

    with _tool_session(verbose):
        admin = clients.admin_client(_settings(bootstrap, timeout_ms))
        try:
            found = group_tools.list_groups(admin)
        finally:
            admin.close()
    if output_format == "json":
        click.echo(to_json(found))
    elif ids_only:
        _echo_lines([g["group"] for g in found])
    elif found:
        _echo_lines(render_table(["GROUP", "STATE", "PROTOCOL-TYPE"],
                                 ([g["group"], g["state"], g["protocol_type"]] for g in found)))


@groups.command("describe")
@click.argument("group_ids", nargs=-1, required=True)
@_client_options
@click.option("--format", "output_format", type=FORMATS, default="text", show_default=True)
def groups_describe(group_ids: tuple[str, ...], bootstrap: str, timeout_ms: int, verbose: bool,
                    output_format: str) -> None:
    """Per partition: committed offset, log end offset, lag and the member reading it."""
    from logbroker.tools import clients
    from logbroker.tools import groups as group_tools

    with _tool_session(verbose):
        admin = clients.admin_client(_settings(bootstrap, timeout_ms))
        try:
            infos = [group_tools.describe_group(admin, g) for g in group_ids]
        finally:
            admin.close()
    if output_format == "json":
        click.echo(to_json([info.as_json() for info in infos]))
        return
    for n, info in enumerate(infos):
        if n:
            click.echo("")
        _echo_lines(group_tools.describe_lines(info))


@groups.command("reset-offsets")
@click.argument("group")
@_client_options
@click.option("--topic", "topic_specs", multiple=True, metavar="TOPIC[:P1,P2]", help="Partitions to reset; repeatable.")
@click.option("--all-topics", is_flag=True, help="Every partition the group has an offset for.")
@click.option("--to-earliest", is_flag=True)
@click.option("--to-latest", is_flag=True)
@click.option("--to-datetime", default=None, metavar="ISO-8601", help="First offset at or after this time.")
@click.option("--to-offset", type=click.IntRange(min=0), default=None)
@click.option("--shift-by", type=int, default=None, metavar="N", help="Move the committed offset by N (may be < 0).")
@click.option("--execute", is_flag=True, help="Commit the new offsets; without it this is a dry run.")
@click.option("--dry-run", is_flag=True, help="Only print the plan (the default; kafka-consumer-groups' flag).")
@click.option("--format", "output_format", type=FORMATS, default="text", show_default=True)
def groups_reset_offsets(group: str, bootstrap: str, timeout_ms: int, verbose: bool, topic_specs: tuple[str, ...],
                         all_topics: bool, to_earliest: bool, to_latest: bool, to_datetime: str | None,
                         to_offset: int | None, shift_by: int | None, execute: bool, dry_run: bool,
                         output_format: str) -> None:
    """Move GROUP's committed offsets; prints the plan, commits it only with --execute.

    \b
      logbroker groups reset-offsets billing --topic orders --to-earliest            # dry run
      logbroker groups reset-offsets billing --topic orders:0 --shift-by -10 --execute
    """
    from logbroker.tools import clients
    from logbroker.tools import groups as group_tools

    if execute and dry_run:
        raise click.UsageError("--execute and --dry-run are exclusive")
    with _tool_session(verbose):
        admin = clients.admin_client(_settings(bootstrap, timeout_ms))
        try:
            plan = group_tools.plan_reset(admin, group, list(topic_specs), all_topics, to_earliest=to_earliest,
                                          to_latest=to_latest, to_datetime=to_datetime, to_offset=to_offset,
                                          shift_by=shift_by)
            if execute:
                group_tools.execute_reset(admin, group, plan)
        finally:
            admin.close()
    if output_format == "json":
        click.echo(to_json({"group": group, "executed": execute,
                            "partitions": [{"topic": t.topic, "partition": t.partition,
                                            "current_offset": t.current_offset, "new_offset": t.new_offset}
                                           for t in plan]}))
    else:
        _echo_lines(group_tools.reset_lines(group, plan))
    if not execute:
        click.echo("Dry run: nothing committed; add --execute to apply.", err=True)


@groups.command("delete")
@click.argument("group_ids", nargs=-1, required=True)
@_client_options
def groups_delete(group_ids: tuple[str, ...], bootstrap: str, timeout_ms: int, verbose: bool) -> None:
    """Delete consumer groups (they must have no active members) and their committed offsets."""
    from logbroker.tools import clients
    from logbroker.tools import groups as group_tools

    with _tool_session(verbose):
        admin = clients.admin_client(_settings(bootstrap, timeout_ms))
        try:
            result = group_tools.delete_groups(admin, list(group_ids))
        finally:
            admin.close()
        failed = {g: r for g, r in result.items() if r != "OK"}
        for g in group_ids:
            if result.get(g) == "OK":
                click.echo(f"Deleted consumer group {g}.")
        if failed:
            from logbroker.tools.errors import ToolError

            raise ToolError("; ".join(f"cannot delete group {g!r}: {r}" for g, r in failed.items()))


@groups.command("configs")
@click.argument("group")
@_client_options
@click.option("--set", "set_configs", multiple=True, metavar="KEY=VALUE",
              help="Set a group config (e.g. consumer.heartbeat.interval.ms=7000); repeatable.")
@click.option("--delete", "delete_configs", multiple=True, metavar="KEY",
              help="Remove a group config (back to the broker default); repeatable.")
@click.option("--format", "output_format", type=FORMATS, default="text", show_default=True)
def groups_configs(group: str, bootstrap: str, timeout_ms: int, verbose: bool, set_configs: tuple[str, ...],
                   delete_configs: tuple[str, ...], output_format: str) -> None:
    """Show GROUP's configs (session timeout, heartbeat interval, share-group settings) or change them
    with --set / --delete (like kafka-configs --entity-type groups). A group id no group holds yet
    can be configured; its group takes the configs when it is made."""
    from logbroker.tools import clients
    from logbroker.tools import group_configs as config_tools

    changes = _pairs(set_configs, "--set")
    with _tool_session(verbose):
        admin = clients.admin_client(_settings(bootstrap, timeout_ms))
        try:
            if changes or delete_configs:
                done = config_tools.alter_group_configs(admin, group, changes, list(delete_configs))
                click.echo(to_json({"group": group, "altered": done}) if output_format == "json"
                           else f"Altered the configs of group {group}: {'; '.join(done)}.")
                return
            configs = config_tools.describe_group_configs(admin, group)
        finally:
            admin.close()
    if output_format == "json":
        click.echo(to_json([c.as_json() for c in configs]))
        return
    _echo_lines(render_table(["CONFIG", "VALUE", "SOURCE"],
                             [(c.name, c.value, "group" if c.own else "default") for c in configs]))


USERS_EPILOG = """\b
Like kafka-configs --entity-type users (SCRAM credentials, KIP-554):
  logbroker users add alice [--password-file F] [--mechanism SCRAM-SHA-512] [--iterations 4096]
  logbroker users list [USER...]
  logbroker users delete alice [--mechanism SCRAM-SHA-256]
The password is asked for (twice, not echoed) or read from the first line of --password-file;
it is never an argument, so it stays out of the shell history and the process list.
"""


@main.group(epilog=USERS_EPILOG)
def users() -> None:
    """Add, list and delete SCRAM users (like kafka-configs --entity-type users)."""


def _mechanisms(values: tuple[str, ...]) -> tuple[str, ...]:
    return values or tuple(SCRAM_MECHANISMS)


_MECHANISM_OPTION = click.option("--mechanism", "mechanisms", multiple=True,
                                 type=click.Choice(tuple(SCRAM_MECHANISMS)),
                                 help="Which SCRAM mechanism; repeatable [default: both].")


@users.command("add")
@click.argument("user")
@_client_options
@_MECHANISM_OPTION
@click.option("--iterations", type=click.IntRange(4096, 16384), default=4096, show_default=True)
@click.option("--password-file", type=click.File("r"), default=None,
              help="Read the password from the first line of this file (- for stdin).")
def users_add(user: str, bootstrap: str, timeout_ms: int, verbose: bool, mechanisms: tuple[str, ...],
              iterations: int, password_file: TextIO | None) -> None:
    """Create USER or set a new password (salted and hashed before it is sent)."""
    from logbroker.tools import clients
    from logbroker.tools import users as user_tools

    if password_file is not None:
        password = password_file.readline().rstrip("\r\n")
    else:
        password = click.prompt(f"Password for {user}", hide_input=True, confirmation_prompt=True)
    if not password:
        raise click.BadParameter("the password is empty", param_hint="--password-file")
    with _tool_session(verbose):
        admin = clients.admin_client(_settings(bootstrap, timeout_ms))
        try:
            user_tools.add_user(admin, user, password, _mechanisms(mechanisms), iterations)
        finally:
            admin.close()
        click.echo(f"Set {', '.join(_mechanisms(mechanisms))} credentials of user {user}.")


@users.command("list")
@click.argument("names", nargs=-1)
@_client_options
def users_list(names: tuple[str, ...], bootstrap: str, timeout_ms: int, verbose: bool) -> None:
    """Users with SCRAM credentials: name, then mechanism=iterations."""
    from logbroker.tools import clients
    from logbroker.tools import users as user_tools

    with _tool_session(verbose):
        admin = clients.admin_client(_settings(bootstrap, timeout_ms))
        try:
            found = user_tools.list_users(admin, list(names) or None)
        finally:
            admin.close()
        for user in sorted(found):
            click.echo(f"{user} " + ",".join(f"{m}={i}" for m, i in found[user]))
        missing = [n for n in names if n not in found]
        if missing:
            from logbroker.tools.errors import ToolError

            raise ToolError(f"no SCRAM credentials for {', '.join(missing)}")


@users.command("delete")
@click.argument("user")
@_client_options
@_MECHANISM_OPTION
def users_delete(user: str, bootstrap: str, timeout_ms: int, verbose: bool, mechanisms: tuple[str, ...]) -> None:
    """Delete USER's SCRAM credentials (of the given mechanisms, else all)."""
    from logbroker.tools import clients
    from logbroker.tools import users as user_tools

    with _tool_session(verbose):
        admin = clients.admin_client(_settings(bootstrap, timeout_ms))
        try:
            deleted = user_tools.delete_user(admin, user, _mechanisms(mechanisms))
        finally:
            admin.close()
        click.echo(f"Deleted {', '.join(deleted)} credentials of user {user}.")


if __name__ == "__main__":  # pragma: no cover
    main()
