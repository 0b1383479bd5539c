"""Config values from the environment or files, with Kafka's config-provider syntax (KIP-297, KIP-421).

``config.providers=env,file`` names the providers; each is declared by Kafka's class name
(``config.providers.<name>.class``) and then any property value may hold ``${<name>:[path:]key}``:

    class (Kafka's)                                               ${...} resolves to
    org.apache.kafka.common.config.provider.EnvVarConfigProvider   ${env:NAME}: the environment variable
    org.apache.kafka.common.config.provider.FileConfigProvider     ${file:/path:key}: ``key`` of the
                                                                   java.util.Properties file at /path
    org.apache.kafka.common.config.provider.DirectoryConfigProvider ${dir:/path:name}: the content of
                                                                   the file ``name`` in directory /path

As in Kafka, a placeholder whose key the provider does not have is left as written, and a file that
cannot be read refuses the configuration. Values resolved here are never logged.
Sources: Kafka's configuration documentation ("Using External Configuration Providers",
https://kafka.apache.org/documentation/#config_providers), KIP-297 and KIP-421.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from logbroker.errors import InvalidConfigError

log = logging.getLogger(__name__)

_PLACEHOLDER = re.compile(r"\$\{([^}]*?):(?:([^}]*?):)?([^}]*?)\}")
_CLASSES = {
    "org.apache.kafka.common.config.provider.EnvVarConfigProvider": "env",
    "org.apache.kafka.common.config.provider.FileConfigProvider": "file",
    "org.apache.kafka.common.config.provider.DirectoryConfigProvider": "dir",
}
Lookup = Callable[[str, str], str | None]  # (path, key) -> value or None


def _env(path: str, key: str) -> str | None:
    return os.environ.get(key) if not path else None


def _file(path: str, key: str) -> str | None:
    from logbroker.config import parse_properties  # the one java.util.Properties reader

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidConfigError(f"config provider file: cannot read {path}: {exc.strerror}") from None
    return parse_properties(text).get(key)


def _dir(path: str, key: str) -> str | None:
    target = Path(path) / key
    if target.parent != Path(path) or not target.is_file():
        return None
    try:
        return target.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidConfigError(f"config provider dir: cannot read {target}: {exc.strerror}") from None


_LOOKUPS: dict[str, Lookup] = {"env": _env, "file": _file, "dir": _dir}


def providers(props: Mapping[str, str]) -> dict[str, Lookup]:
    """The providers ``config.providers`` declares, by name."""
    out: dict[str, Lookup] = {}
    for name in (n.strip() for n in props.get("config.providers", "").split(",")):
        if not name:
            continue
        cls = props.get(f"config.providers.{name}.class", "").strip()
        kind = _CLASSES.get(cls)
        if kind is None:
            raise InvalidConfigError(
                f"config.providers.{name}.class={cls or '(not set)'}: logbroker provides "
                + ", ".join(sorted(_CLASSES))
            )
        out[name] = _LOOKUPS[kind]
    return out


def resolve(props: Mapping[str, str]) -> dict[str, str]:
    """``props`` with every ``${provider:[path:]key}`` of a declared provider replaced."""
    lookups = providers(props)
    if not lookups:
        return dict(props)
    out: dict[str, str] = {}
    for name, value in props.items():
        def substitute(m: re.Match[str], prop: str = name) -> str:
            provider = lookups.get(m.group(1))
            if provider is None:
                return m.group(0)
            found = provider(m.group(2) or "", m.group(3))
            if found is None:
                log.warning("property %s: %s has no value for %r; left as written", prop, m.group(1), m.group(3))
                return m.group(0)
            return found

        out[name] = _PLACEHOLDER.sub(substitute, value) if "${" in value else value
    return out
