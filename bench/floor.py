"""The floor each generated stack must hold against the hand-written recipe it replaces, in the same bench run.

- Requests per second: at least the recipe's, against every recipe for the same server behind the same proxy.
- CPU per request: no more than a recipe that runs the same server with the same safety (for uWSGI: threads for
  lossless reloads and a request timeout, which the seeds' own command lines lack, so a row adds them).
- p99 latency: at most twice the recipe's, recycling forced or not.

The machine is shared and noisy, so a floor is broken only when the rounds' spread says the stack is really below,
not when a median merely is:
- requests per second: every round of the generated stack below every round of the recipe (its highest below the
  recipe's lowest);
- CPU per request: the generated stack's median above the recipe's highest round;
- p99: the generated stack's lowest round above twice the recipe's highest round.
With a single round (--quick) these reduce to one comparison each: indicative only.
"""

from dataclasses import dataclass

from bench.measure import median, spread

RPS, CPU, P99 = "requests/s", "CPU per request", "p99"
P99_FACTOR = 2.0


@dataclass(frozen=True)
class Floor:
    generated: str  # a stack's name
    recipe: str
    measures: tuple[str, ...]  # which of RPS, CPU, P99 this pair is held to


def verdicts(floor: Floor, generated: list[dict], recipe: list[dict]) -> list[tuple[str, str, bool]]:
    """(measure, what was seen, broken) for each measure of `floor`, from the two stacks' rounds."""
    found = []
    if RPS in floor.measures:
        ours, theirs = [r["rps"] for r in generated], [r["rps"] for r in recipe]
        ratio = median(ours) / median(theirs)
        seen = f"{ratio:.2f} x ({spread(ours)} against {spread(theirs)})"
        found.append((RPS, seen, max(ours) < min(theirs)))
    if CPU in floor.measures:
        ours, theirs = [r["cpu_us"] for r in generated], [r["cpu_us"] for r in recipe]
        ratio = median(ours) / median(theirs)
        seen = f"{ratio:.2f} x (median {median(ours):.0f} µs against {spread(theirs)} µs)"
        found.append((CPU, seen, median(ours) > max(theirs)))
    if P99 in floor.measures:
        ours, theirs = [r["p99"] for r in generated], [r["p99"] for r in recipe]
        ratio = median(ours) / median(theirs)
        seen = f"{ratio:.2f} x ({spread(ours)} ms against {spread(theirs)} ms; goal at most {P99_FACTOR:g} x)"
        found.append((P99, seen, min(ours) > P99_FACTOR * max(theirs)))
    return found


def floor_report(floors: list[Floor], results: dict[str, list[dict]]) -> tuple[list[str], list[str]]:
    """The report's section on the floor, and one line per broken floor (empty when every floor holds). Floors whose
    stacks did not run (a row filter) are left out."""
    lines = [
        "## The floor: generated stacks against the recipes they replace",
        "",
        "Broken only when the rounds' spread says so: requests/s when every round of the generated stack is below"
        " every round of the recipe; CPU per request when its median is above the recipe's highest round; p99 when"
        f" its lowest round is above {P99_FACTOR:g} x the recipe's highest (bench/floor.py). Ratios: generated over"
        " recipe, medians.",
        "",
        "| generated | recipe | measure | seen | floor |",
        "|---|---|---|---|---|",
    ]
    broken = []
    for floor in floors:
        if floor.generated not in results or floor.recipe not in results:
            continue
        for measure, seen, is_broken in verdicts(floor, results[floor.generated], results[floor.recipe]):
            lines.append(
                f"| {floor.generated} | {floor.recipe} | {measure} | {seen} | {'BROKEN' if is_broken else 'holds'} |"
            )
            if is_broken:
                broken.append(f"FLOOR BROKEN: {floor.generated} against {floor.recipe}: {measure} {seen}")
    return [*lines, ""], broken
