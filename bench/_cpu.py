"""CPU seconds used by the benchmark's own processes, by role, sampled from /proc (Linux).

A benchmark that starts redis-server, moto's S3 server and worker processes on
one machine shares its cores among them (and with whatever else runs there).
`CpuSampler` records, a few times a second, the CPU time of every descendant
of this process grouped by a substring of its command line, plus the whole
machine's busy time, so a rate can be told apart from the CPU it had.
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: str) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of a process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def machine_busy() -> float:
    """CPU seconds the whole machine's processes ran since boot (all cores).

    user + nice + system + irq + softirq: not idle or iowait, nor steal (time
    the hypervisor gave to another machine), nor guest (already in user).
    """
    with open("/proc/stat") as f:
        user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in f.readline().split()[1:8])
    return (user + nice + system + irq + softirq) / _TICK


class CpuSampler:
    """Samples CPU seconds per role every `interval` seconds until `stop()`.

    `roles` maps a role name to a command-line substring; a process belongs to
    the role of its nearest ancestor (or itself) that matches one, so a prefork
    worker's children count as "worker".  This process itself is role "bench".
    """

    def __init__(self, roles: dict[str, str], interval: float = 0.25):
        self.roles = roles
        self.interval = interval
        self.samples: list[tuple[float, float, dict[str, float]]] = []  # (wall time, machine busy, by role)
        self._role_of: dict[int, str | None] = {os.getpid(): "bench"}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)

    def __enter__(self) -> "CpuSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self.samples.append((time.time(), machine_busy(), self._by_role()))
            if self._stop.wait(self.interval):
                return

    def _by_role(self) -> dict[str, float]:
        parents: dict[int, int] = {}
        cpu: dict[int, float] = {}
        for name in os.listdir("/proc"):
            if name.isdigit():
                found = _stat(name)
                if found is not None:
                    parents[int(name)], cpu[int(name)] = found
        totals: dict[str, float] = defaultdict(float)
        for pid, seconds in cpu.items():
            role = self._role(pid, parents)
            if role is not None:
                totals[role] += seconds
        return dict(totals)

    def _role(self, pid: int, parents: dict[int, int]) -> str | None:
        if pid in self._role_of:
            return self._role_of[pid]
        parent = parents.get(pid, 0)
        inherited = self._role(parent, parents) if parent > 1 else None
        role = None
        if inherited is not None:
            command = _cmdline(pid)
            role = next((r for r, text in self.roles.items() if text in command), inherited)
        self._role_of[pid] = role
        return role

    def between(self, start: float, end: float) -> tuple[float, dict[str, float]]:
        """(machine busy seconds, CPU seconds by role) spent from `start` to `end` (wall times).

        Processes that ended inside the window lose what they used in it, so
        take windows that end before the measured processes are stopped.
        """
        first = min(self.samples, key=lambda s: abs(s[0] - start))
        last = min(self.samples, key=lambda s: abs(s[0] - end))
        roles = set(first[2]) | set(last[2])
        return last[1] - first[1], {r: last[2].get(r, 0.0) - first[2].get(r, 0.0) for r in roles}
