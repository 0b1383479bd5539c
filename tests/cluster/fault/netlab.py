"""Network namespaces for a cluster's fault runs: one namespace per broker, each joined by a veth pair
to a private bridge this module creates, addresses from 10.213.N.0/24 (N from the test's pid, so
two runs on one machine do not meet).

    host namespace            bridge lbf<id>br  10.213.N.1/24  (ZooKeeper and the test's clients)
    namespace lbf<id>-b<i>    veth lbf<id>v<i>  10.213.N.(10+i)/24, peer lbf<id>h<i> on the bridge

Traffic goes only between the namespaces and the bridge's address; no route, forwarding or NAT
leads anywhere else. Faults: a broker's link cut (``ip link set down``) and healed, a link that
flaps, and traffic between two brokers dropped while both still reach ZooKeeper and the clients
(blackhole routes inside the namespaces). ``close`` removes everything ``open`` made, and ``open`` first removes what a
killed earlier run of this machine left behind.

Needs root (``ip netns``); CI runs as root.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass, field

PREFIX = "lbf"


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(args), capture_output=True, text=True, timeout=20)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def available() -> str | None:
    """Why namespaces cannot be made here, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if run("sh", "-c", "command -v ip", check=False).returncode != 0:
        return "ip is not installed (iproute2)"
    return None


def _remove_leftovers() -> None:
    """Namespaces and bridges of earlier runs whose process is gone (a run killed before its cleanup)."""
    names = run("ip", "netns", "list", check=False).stdout.split()
    links = re.findall(r"^\d+: ([^:@]+)", run("ip", "-o", "link", "show", check=False).stdout, re.M)
    for name in [*names, *links]:
        m = re.fullmatch(rf"{PREFIX}(\d+)(?:-b\d+|br|h\d+)", name)
        if m is None:
            continue
        pid = int(m.group(1))
        if pid == os.getpid() or _alive(pid):
            continue
        if "-b" in name:
            run("ip", "netns", "del", name, check=False)
        else:
            run("ip", "link", "del", name, check=False)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class NetLab:
    brokers: tuple[int, ...]
    ident: int = field(default_factory=os.getpid)
    opened: bool = False

    @property
    def subnet(self) -> str:
        return f"10.213.{self.ident % 250 + 1}"

    @property
    def bridge(self) -> str:
        return f"{PREFIX}{self.ident}br"

    @property
    def host_address(self) -> str:
        """The bridge's address in the host namespace: ZooKeeper listens here, clients come from here."""
        return f"{self.subnet}.1"

    def namespace(self, broker: int) -> str:
        return f"{PREFIX}{self.ident}-b{broker}"

    def address(self, broker: int) -> str:
        return f"{self.subnet}.{10 + broker}"

    def _host_end(self, broker: int) -> str:
        return f"{PREFIX}{self.ident}h{broker}"

    def _inner_end(self, broker: int) -> str:
        return f"{PREFIX}{self.ident}v{broker}"

    def exec_prefix(self, broker: int) -> list[str]:
        """Prefix a command with this to run it inside the broker's namespace (``ip netns exec``
        execs the command, so the pid the test holds is the command's own)."""
        return ["ip", "netns", "exec", self.namespace(broker)]

    def open(self) -> NetLab:
        _remove_leftovers()
        self.opened = True
        try:
            run("ip", "link", "add", self.bridge, "type", "bridge", "forward_delay", "0", "stp_state", "0")
            run("ip", "addr", "add", f"{self.host_address}/24", "dev", self.bridge)
            run("ip", "link", "set", self.bridge, "up")
            for b in self.brokers:
                ns, inner, outer = self.namespace(b), self._inner_end(b), self._host_end(b)
                run("ip", "netns", "add", ns)
                run("ip", "link", "add", outer, "type", "veth", "peer", "name", inner, "netns", ns)
                run("ip", "link", "set", outer, "master", self.bridge)
                run("ip", "link", "set", outer, "up")
                run("ip", "-n", ns, "addr", "add", f"{self.address(b)}/24", "dev", inner)
                run("ip", "-n", ns, "link", "set", inner, "up")
                run("ip", "-n", ns, "link", "set", "lo", "up")
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Remove every namespace (their veth pairs go with them) and the bridge; never raises."""
        if not self.opened:
            return
        for b in self.brokers:
            run("ip", "netns", "del", self.namespace(b), check=False)
            run("ip", "link", "del", self._host_end(b), check=False)
        run("ip", "link", "del", self.bridge, check=False)
        self.opened = False

    # Faults ---------------------------------------------------------------------------------------

    def cut(self, broker: int) -> None:
        """The broker loses every link: to ZooKeeper, the clients and the other brokers."""
        run("ip", "link", "set", self._host_end(broker), "down")

    def heal(self, broker: int) -> None:
        run("ip", "link", "set", self._host_end(broker), "up")

    def flap(self, broker: int, down_s: float, up_s: float, total_s: float) -> None:
        """The broker's link goes down and up again and again for ``total_s`` (a flaky cable or switch
        port); ends up. (The kernel here has no ``netem`` qdisc for random loss.)"""
        deadline = time.monotonic() + total_s
        while time.monotonic() < deadline:
            self.cut(broker)
            time.sleep(down_s)
            self.heal(broker)
            time.sleep(up_s)

    def separate(self, broker: int, others: list[int]) -> None:
        """Drop traffic between ``broker`` and each of ``others`` (both ways) while every link to
        ZooKeeper and the clients stays: a blackhole route to the other side in each namespace (the
        kernel here has neither ``tc`` filters nor ``iptables``)."""
        for other in others:
            run(*self._ns(broker), "ip", "route", "add", "blackhole", f"{self.address(other)}/32")
            run(*self._ns(other), "ip", "route", "add", "blackhole", f"{self.address(broker)}/32")

    def join(self, broker: int, others: list[int]) -> None:
        """Undo ``separate``."""
        for other in others:
            run(*self._ns(broker), "ip", "route", "del", "blackhole", f"{self.address(other)}/32", check=False)
            run(*self._ns(other), "ip", "route", "del", "blackhole", f"{self.address(broker)}/32", check=False)

    def _ns(self, broker: int) -> list[str]:
        return ["ip", "netns", "exec", self.namespace(broker)]
