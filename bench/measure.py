"""Small statistics and the machine's description, shared by the benchmarks."""

import os
import platform
import statistics
import subprocess
from pathlib import Path


def median(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float]) -> str:
    """Lowest to highest: shows how noisy a median is."""
    return " to ".join(f"{value:.0f}" if value >= 100 else f"{value:.3g}" for value in (min(values), max(values)))


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    versions = []
    for command in (["nginx", "-v"], ["apache2", "-v"], ["wrk", "--version"]):
        try:
            result = subprocess.run(command, capture_output=True, text=True, check=False)
            versions.append((result.stdout + result.stderr).strip().splitlines()[0])
        except (OSError, IndexError):
            continue
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {memory:.0f} GiB, {platform.platform()}, Python {platform.python_version()}; "
        f"load average at start {load}. {'; '.join(versions)}"
    )


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) a server has used: the process, its live descendants, and the children it has
    reaped (recycled workers). Unlike requests per second, CPU per request hardly moves when other work shares the
    machine, so it compares stacks fairly on a noisy one."""

    def fields(process: int) -> list[int]:
        after_name = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        return [int(value) for value in after_name[11:15]]  # utime, stime, cutime, cstime

    def descendants(process: int) -> list[int]:
        found = []
        for task in Path(f"/proc/{process}/task").iterdir():
            for child in (task / "children").read_text().split():
                found += [int(child), *descendants(int(child))]
        return found

    try:
        total = sum(fields(pid))
        for child in descendants(pid):
            try:
                total += sum(fields(child)[:2])
            except (FileNotFoundError, ProcessLookupError):
                continue  # exited meanwhile: its parent's reaped time has it
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return total / CLOCK_TICKS
