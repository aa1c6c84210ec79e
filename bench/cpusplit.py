"""Where the machine's CPU went during a benchmark, by process kind, read from /proc (Linux).

A thread samples every process's CPU time (user + system) twice a second and
adds up what each one used between its first and its last sample, by kind: a
stack process's process group (the harness starts each in a group of its own:
"worker", "engine", ...), PostgreSQL's and Redis's servers, this process (the
benchmark's SMTP server and fake Binance), and the rest. A process that ends
between two samples loses its last half second, so the figures are a little
low for short-lived ones (a batch's heartbeat connection to PostgreSQL).

Used by ``bench/crashday.py --cpu``: whether a crash day is bound by the
delivery processes' CPU, the database's, or the benchmark's own SMTP server.
"""

import os
import threading
import time
from collections.abc import Callable

TICKS = os.sysconf("SC_CLK_TCK")


def _read(pid: str) -> tuple[str, int, int] | None:
    """(command name, process group, CPU ticks) of one process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            text = stat.read()
    except OSError:
        return None
    # The command name is in parentheses and may itself contain spaces or parentheses.
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    return name, int(fields[2]), int(fields[11]) + int(fields[12])  # pgrp, utime + stime


class CpuSplit(threading.Thread):
    """``with CpuSplit(groups) as split: ...`` then ``split.report()``.

    ``groups``: called at every sample, the process groups to name (pgid -> kind),
    so that a process restarted meanwhile (a killed worker) is still named.
    """

    def __init__(self, groups: Callable[[], dict[int, str]], interval: float = 0.5):
        super().__init__(name="cpu-split", daemon=True)
        self.groups = groups
        self.interval = interval
        self.first: dict[int, int] = {}
        self.last: dict[int, tuple[str, int]] = {}
        self.done = threading.Event()
        self.seconds = 0.0

    def _kind(self, pid: int, name: str, pgrp: int, groups: dict[int, str]) -> str:
        if pgrp in groups:
            return groups[pgrp]
        if pid == os.getpid():
            return "benchmark (SMTP server, fake Binance)"
        if name in ("postgres", "postmaster"):
            return "postgresql"
        if name.startswith("redis-server"):
            return "redis"
        return "other"

    def _sample(self, *, initial: bool) -> None:
        groups = self.groups()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            read = _read(entry)
            if read is None:
                continue
            pid, (name, pgrp, ticks) = int(entry), read
            # A process born after the start counts from zero; one there at the start, from then.
            self.first.setdefault(pid, ticks if initial else 0)
            self.last[pid] = (self._kind(pid, name, pgrp, groups), ticks)

    def run(self) -> None:
        while not self.done.wait(self.interval):
            self._sample(initial=False)

    def __enter__(self) -> "CpuSplit":
        self._began = time.monotonic()
        self._sample(initial=True)
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.join()
        self._sample(initial=False)
        self.seconds = time.monotonic() - self._began

    def used(self) -> dict[str, float]:
        """CPU seconds used per kind, most first."""
        per_kind: dict[str, float] = {}
        for pid, (kind, ticks) in self.last.items():
            per_kind[kind] = per_kind.get(kind, 0.0) + (ticks - self.first[pid]) / TICKS
        return dict(sorted(per_kind.items(), key=lambda item: -item[1]))

    def report(self) -> str:
        """One line: each kind's CPU seconds and share of one core over the wall time measured."""
        used = self.used()
        parts = [f"{kind} {seconds:.1f} s ({seconds / self.seconds:.0%})" for kind, seconds in used.items()]
        cores = os.cpu_count() or 1
        idle = max(0.0, cores * self.seconds - sum(used.values()))
        return f"CPU over {self.seconds:.1f} s ({cores} cores): " + ", ".join(parts) + f"; idle {idle:.1f} s"
