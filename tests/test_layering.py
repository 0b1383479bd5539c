"""The layering is a test: imports point downward only (docs/ARCHITECTURE.md, "Layers")."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (package prefix of the importing module, forbidden import prefix, why)
FORBIDDEN = [
    ("segments", "logbroker", "the storage engine knows nothing of the broker"),
    ("segments", "asyncio", "the storage engine does no networking or event-loop work"),
    ("segments", "socket", "the storage engine does no networking"),
    ("logbroker.kafka.codec", "asyncio", "the codec is sans-IO"),
    ("logbroker.kafka.codec", "socket", "the codec is sans-IO"),
    ("logbroker.kafka.compiler", "asyncio", "the codec is sans-IO"),
    ("logbroker.kafka.schema", "asyncio", "the codec is sans-IO"),
    ("logbroker.kafka.versioned", "asyncio", "the codec is sans-IO"),
    ("logbroker.kafka.framing", "asyncio", "the codec is sans-IO"),
    ("logbroker.kafka.frame_reader", "asyncio", "frame splitting is sans-IO: the transport does the reads"),
    ("logbroker.kafka.frame_reader", "socket", "frame splitting is sans-IO: the transport does the reads"),
    ("logbroker.kafka.recv_buffers", "asyncio", "the buffer cache is plain memory bookkeeping"),
    ("logbroker.broker", "logbroker.kafka", "the core is protocol-agnostic"),
    ("logbroker.broker", "logbroker.http", "the core is protocol-agnostic"),
    ("logbroker.kafka", "logbroker.http", "the two fronts never import each other"),
    ("logbroker.http", "logbroker.kafka", "the two fronts never import each other"),
    ("logbroker.kafka", "segments", "a front reaches storage only through the core (Broker)"),
    ("logbroker.http", "segments", "a front reaches storage only through the core (Broker)"),
    ("logbroker.tools", "segments", "a front reaches storage only through the core (Broker)"),
    ("logbroker.groups", "logbroker.kafka", "the group coordinator is below both fronts"),
    ("logbroker.groups", "logbroker.http", "the group coordinator is below both fronts"),
    ("logbroker.broker", "logbroker.cluster", "the core looks partition ownership up (logbroker.ownership)"),
    ("logbroker.kafka", "logbroker.cluster", "fronts see the cluster only through the core's PartitionOwnership"),
    ("logbroker.http", "logbroker.cluster", "fronts see the cluster only through the core's PartitionOwnership"),
    ("logbroker.cluster", "segments", "the cluster reaches storage only through the core (Broker)"),
    ("logbroker.cluster", "logbroker.http", "replication speaks the Kafka protocol only"),
]

# Pure byte-format modules of the storage engine that any layer may use: they hold no storage state.
SHARED_FORMATS = frozenset({"segments.varint"})

# Exceptions to FORBIDDEN: (importer prefix, imported module, why). The group coordinator's record
# layouts (``__consumer_offsets``, the consumer protocol) are compiled by the sans-IO schema engine
# that also compiles the wire messages; it holds no connection state.
ALLOWED = [
    ("logbroker.groups", "logbroker.kafka.versioned", "one schema engine for every Kafka byte layout"),
    ("logbroker.groups", "logbroker.kafka.errors", "the schema engine's ProtocolError and EncodeError"),
]

# Fronts translate onto ``Broker``; they never hold the storage engine behind it.
FRONTS = ("logbroker.kafka", "logbroker.http", "logbroker.tools")
STORAGE_ATTRIBUTES = frozenset({"store"})


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_no_forbidden_import_edges() -> None:
    files = [*ROOT.joinpath("segments").rglob("*.py"), *ROOT.joinpath("logbroker").rglob("*.py")]
    assert files
    violations = []
    for path in files:
        mod = module_name(path)
        for imported in imports_of(path):
            if imported in SHARED_FORMATS:
                continue
            if any(_within(mod, owner) and imported == allowed for owner, allowed, _ in ALLOWED):
                continue
            for owner, banned, why in FORBIDDEN:
                if _within(mod, owner) and _within(imported, banned):
                    violations.append(f"{mod} imports {imported}: {why}")
    assert not violations, "\n".join(violations)


def storage_reaches(path: Path) -> list[str]:
    """``x.store`` attribute accesses in a module, as "line: source" strings."""
    source = path.read_text(encoding="utf-8")
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in STORAGE_ATTRIBUTES:
            found.append(f"{node.lineno}: {ast.get_source_segment(source, node)}")
    return found


def test_fronts_do_not_reach_past_the_core() -> None:
    fronts = [p for p in ROOT.joinpath("logbroker").rglob("*.py") if any(_within(module_name(p), f) for f in FRONTS)]
    assert fronts
    violations = [f"{module_name(path)}:{where}: a front uses the storage engine; call a Broker method instead"
                  for path in fronts for where in storage_reaches(path)]
    assert not violations, "\n".join(violations)


def test_the_front_rule_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "handler.py"
    bad.write_text("def h(broker):\n    return broker.store.topic('t')\n", encoding="utf-8")
    assert storage_reaches(bad) == ["2: broker.store"]


def _package_edges(package: str) -> dict[str, set[str]]:
    """Module -> the modules of ``package`` it imports (``from package import mod`` included)."""
    modules = {module_name(p): p for p in ROOT.joinpath(*package.split(".")).rglob("*.py")}
    edges: dict[str, set[str]] = {}
    for mod, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets.add(node.module)
                targets.update(f"{node.module}.{a.name}" for a in node.names)
        edges[mod] = {t for t in targets if t in modules and t != mod and t != package}
    return edges


def test_no_import_cycle_within_the_http_front() -> None:
    """``app.py`` imports the routes modules, they import ``context.py``: never back (aiohttp's idiom)."""
    edges = _package_edges("logbroker.http")
    assert "logbroker.http.context" in edges
    done: set[str] = set()

    def visit(mod: str, path: list[str]) -> None:
        if mod in path:
            cycle = [*path[path.index(mod):], mod]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if mod in done:
            return
        for target in sorted(edges[mod]):
            visit(target, [*path, mod])
        done.add(mod)

    for mod in sorted(edges):
        visit(mod, [])
