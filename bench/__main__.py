"""`make bench`: render and serve benchmarks; writes build/reports/bench.md (and prints it).

    python -m bench [--quick] [--only render|served]

Serving needs root: the stacks run in a private network namespace (`unshare --net`), where their sites listen on
port 80. --quick runs fewer rounds and shorter loads, to try the harness; only a full run rewrites docs/benchmarks.md.
"""

import argparse
import datetime
import sys
import time

from bench.measure import machine
from bench.render import run_render
from bench.served import run_served, served_report
from tests.render import TEMPLATE_ROOT

REPORT = TEMPLATE_ROOT / "build" / "reports" / "bench.md"
# The documentation's page: how to run the benchmarks, then the report of the last full run.
DOCS_PAGE = TEMPLATE_ROOT / "docs" / "benchmarks.md"
DOCS_INTRO = """\
# Benchmarks

`make bench` (as root: the served stacks run in a private network namespace, where their sites listen on port 80;
about 13 minutes on 2 cores) renders and serves generated projects side by side with the hand-written recipes of the
deployments this template replaces, alternating them so the noise of a shared machine falls on all of them alike. It
writes `build/reports/bench.md`, and a full run (not `--quick`) also rewrites this page. The code is in `bench/`.

"""
WORK = TEMPLATE_ROOT / "build" / "bench"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round of 3 s loads, 3 renders each")
    parser.add_argument("--only", choices=["render", "served"])
    arguments = parser.parse_args()
    rounds, seconds, repeats = (1, 3, 3) if arguments.quick else (3, 8, 7)
    started = time.monotonic()
    lines = [
        "# Benchmarks",
        "",
        f"Run {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC with `make bench`"
        f"{' (--quick)' if arguments.quick else ''}. Machine: {machine()}",
        "",
    ]
    if arguments.only != "served":
        lines += run_render(repeats)
    if arguments.only != "render":
        stacks, first_200 = run_served(WORK / "served", rounds, seconds)
        lines += served_report(stacks, first_200, rounds, seconds)
    lines.append(f"Whole run: {(time.monotonic() - started) / 60:.1f} minutes.")
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(lines) + "\n")
    if not arguments.quick and arguments.only is None:
        DOCS_PAGE.write_text(DOCS_INTRO + "\n".join(lines[1:]).lstrip() + "\n")
    print("\n".join(lines))
    print(f"\nwritten to {REPORT.relative_to(TEMPLATE_ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
