"""The ``logbroker`` command: ``serve`` starts a broker; more subcommands join as the fronts grow.

This is the only module that prints; everything below it logs.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from logbroker import __version__
from segments.errors import StorageError


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
@click.option("--data-dir", type=click.Path(path_type=Path), default=Path("./data"), show_default=True,
              help="Directory holding topic partitions, checkpoints and group state.")
@click.option("--kafka-listen", default="127.0.0.1:9092", show_default=True,
              help="HOST:PORT of the Kafka protocol listener.")
@click.option("--http-listen", default="127.0.0.1:8082", show_default=True,
              help="HOST:PORT of the HTTP API.")
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="A Kafka server.properties file.")
@click.option("--override", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Set a broker property (Kafka's names, e.g. num.partitions=4); repeatable.")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
def serve(data_dir: Path, kafka_listen: str, http_listen: str, config_file: Path | None,
          overrides: tuple[str, ...], log_level: str) -> None:
    """Start a broker on this machine."""
    from logbroker.app import App, AppSettings
    from logbroker.config import BrokerConfig, parse_overrides

    logging.basicConfig(level=log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = BrokerConfig.load(config_file, parse_overrides(overrides))
    except StorageError as exc:
        raise click.ClickException(str(exc)) from exc
    settings = AppSettings(
        data_dir=data_dir,
        kafka_listen=_host_port(kafka_listen, "--kafka-listen"),
        http_listen=_host_port(http_listen, "--http-listen"),
        config=config,
    )
    try:
        App(settings).run()
    except StorageError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"cannot start: {exc}") from exc


if __name__ == "__main__":  # pragma: no cover
    main()
