"""`make bench`: render and serve benchmarks; writes build/reports/bench.md (and prints it).

    python -m bench [--quick] [--only render|served] [--rows TEXT ...] [--rounds N] [--seconds S]

Serving needs root: the stacks run in a private network namespace (`unshare --net`), where their sites listen on
port 80. --quick runs fewer rounds and shorter loads, to try the harness; --rows runs only the served rows whose name
contains one of the texts (and the recipes they are held against); only a full run rewrites docs/benchmarks.md.
Exit status 3 when a generated stack broke its floor against a recipe (bench/floor.py; the report says which).
"""

import argparse
import datetime
import sys
import time

from bench.measure import machine
from bench.page_load import page_report, run_pages
from bench.render import run_render
from bench.served import run_served, select, served_report
from bench.served import stacks as all_stacks
from tests.render import TEMPLATE_ROOT

REPORT = TEMPLATE_ROOT / "build" / "reports" / "bench.md"
# The documentation's page: how to run the benchmarks, then the report of the last full run.
DOCS_PAGE = TEMPLATE_ROOT / "docs" / "benchmarks.md"
DOCS_INTRO = """\
# Benchmarks

`make bench` (as root: the served stacks run in a private network namespace, where their sites listen on port 80;
about 20 minutes on 2 cores) renders and serves generated projects side by side with the hand-written recipes of the
deployments this template replaces, alternating them so the noise of a shared machine falls on all of them alike, and
opens a Dash and a Django admin page in headless Chromium. It writes `build/reports/bench.md`, and a full run (no
`--quick`, `--only`, `--rows`, `--rounds` or `--seconds`) also rewrites this page. It checks the floor each generated
stack must hold against the recipes (requests per second, CPU per request, p99: bench/floor.py) and exits with status
3, naming the row, when one is broken. `BENCH_ARGS="--rows uWSGI --rounds 5"` runs only the served rows and pages whose
name contains the text (with the recipes they are held against). The code is in `bench/`.

"""
WORK = TEMPLATE_ROOT / "build" / "bench"
SECTIONS = ["render", "served", "pages"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round of 3 s loads, 3 renders each")
    parser.add_argument("--only", choices=["render", "served", "pages"])
    parser.add_argument("--rows", nargs="+", default=[], metavar="TEXT", help="served rows whose name contains TEXT")
    parser.add_argument("--rounds", type=int, help="served rounds (3; --quick 1)")
    parser.add_argument("--seconds", type=int, help="seconds of load per served row and round (8; --quick 3)")
    arguments = parser.parse_args()
    rounds, seconds, repeats = (1, 3, 3) if arguments.quick else (3, 8, 7)
    full = not (arguments.quick or arguments.only or arguments.rows or arguments.rounds or arguments.seconds)
    rounds, seconds = arguments.rounds or rounds, arguments.seconds or seconds
    sections = [arguments.only] if arguments.only else ["served", "pages"] if arguments.rows else SECTIONS
    started = time.monotonic()
    how = "" if full else f" BENCH_ARGS='{' '.join(sys.argv[1:])}' (a partial run)"
    lines = [
        "# Benchmarks",
        "",
        f"Run {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC with `make bench`{how}. Machine: {machine()}",
        "",
    ]
    broken = []
    if "render" in sections:
        lines += run_render(repeats)
    if "served" in sections and (stacks := select(all_stacks(WORK / "served"), arguments.rows)):
        stacks, first_200 = run_served(WORK / "served", rounds, seconds, [stack.name for stack in stacks])
        served_lines, broken = served_report(stacks, first_200, rounds, seconds)
        lines += served_lines
    if "pages" in sections and (pages := run_pages(WORK / "served", rounds, arguments.rows)):
        lines += page_report(pages, rounds)
    lines.append(f"Whole run: {(time.monotonic() - started) / 60:.1f} minutes.")
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(lines) + "\n")
    if full:
        DOCS_PAGE.write_text(DOCS_INTRO + "\n".join(lines[1:]).lstrip() + "\n")
    print("\n".join(lines))
    print(f"\nwritten to {REPORT.relative_to(TEMPLATE_ROOT)}", file=sys.stderr)
    for line in broken:
        print(line, file=sys.stderr)
    return 3 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
