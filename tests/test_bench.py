"""bench/'s own logic, without serving anything (`make bench` stays out of the test suite): the floor's verdicts,
wrk's output as parsed, the row filter, and the forced-recycling copies of the generated server configuration."""

import pytest

from bench.floor import CPU, P99, RPS, Floor, floor_report, verdicts
from bench.served import FLOORS, FORCED_RECYCLING, parse_wrk, select, stacks
from tests.render import render_cookiecutter


def rounds(rps: list[float], cpu: list[float] | None = None, p99: list[float] | None = None) -> list[dict]:
    cpu = cpu or [400.0] * len(rps)
    p99 = p99 or [10.0] * len(rps)
    return [{"rps": r, "cpu_us": c, "p99": p} for r, c, p in zip(rps, cpu, p99, strict=True)]


PAIR = Floor("generated", "recipe", (RPS, CPU, P99))


def broken(generated: list[dict], recipe: list[dict]) -> dict[str, bool]:
    return {measure: is_broken for measure, _, is_broken in verdicts(PAIR, generated, recipe)}


def test_overlapping_rounds_hold_the_floor():
    """The issue's example: 0.94 x the recipe's median with the rounds' ranges overlapping is noise, not a breach."""
    assert broken(rounds([2157, 2600, 2972]), rounds([2292, 2800, 3418])) == {RPS: False, CPU: False, P99: False}


def test_every_round_below_every_round_breaks_requests_per_second():
    assert broken(rounds([2000, 2100, 2200]), rounds([2300, 2400, 2500]))[RPS]


def test_cpu_median_above_the_recipes_highest_round_breaks_cpu():
    generated = rounds([3000] * 3, cpu=[480, 520, 700])
    assert broken(generated, rounds([3000] * 3, cpu=[440, 470, 510]))[CPU]
    assert not broken(generated, rounds([3000] * 3, cpu=[440, 470, 530]))[CPU]


def test_p99_breaks_only_beyond_twice_the_recipes_highest_round():
    recipe = rounds([3000] * 3, p99=[5.0, 6.0, 7.0])
    assert broken(rounds([3000] * 3, p99=[14.5, 20.0, 725.0]), recipe)[P99]
    assert not broken(rounds([3000] * 3, p99=[13.0, 20.0, 725.0]), recipe)[P99]


def test_report_names_each_broken_floor_once_and_skips_pairs_that_did_not_run():
    results = {"generated": rounds([2000, 2100]), "recipe": rounds([2300, 2400])}
    lines, broken_lines = floor_report([PAIR, Floor("generated", "absent", (RPS,))], results)
    assert broken_lines == [
        "FLOOR BROKEN: generated against recipe: requests/s 0.87 x (2000 to 2100 against 2300 to 2400)"
    ]
    assert sum("| BROKEN |" in line for line in lines) == 1
    assert not any("absent" in line for line in lines)


def test_every_floor_names_rows_that_exist(tmp_path):
    names = {stack.name for stack in stacks(tmp_path)}
    assert {floor.generated for floor in FLOORS} | {floor.recipe for floor in FLOORS} <= names


def test_row_filter_adds_the_recipes_a_row_is_held_against(tmp_path):
    chosen = [stack.name for stack in select(stacks(tmp_path), ["recycling forced"])]
    assert "generated nginx → uWSGI, recycling forced" in chosen
    assert "eeg-qc-dash's socket recipe" in chosen  # its floor's recipe
    assert "generated nginx → uWSGI" in chosen  # its limit comes from that row's rate
    assert "eeg-qc-dash's HTTP recipe" not in chosen
    assert "generated Apache → gunicorn" not in chosen
    assert select(stacks(tmp_path), ["no such row"]) == []


WRK_OUTPUT = """Running 8s test @ http://127.0.0.1/
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.20ms    1.10ms  25.00ms   90.00%
  Latency Distribution
     50%    2.60ms
     75%    3.10ms
     90%    4.00ms
     99%  724.80ms
  40192 requests in 8.00s, 9.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:   5024.00
Transfer/sec:      1.12MB
"""


def test_parse_wrk():
    assert parse_wrk(WRK_OUTPUT) == {"requests": 40192, "rps": 5024.0, "p50": 2.6, "p99": 724.8, "errors": 7}


@pytest.mark.parametrize("server", sorted(FORCED_RECYCLING))
def test_forced_recycling_copy_lowers_only_the_request_limit(tmp_path, server):
    """The row that forces recycling runs the generated file with its limit lowered: if the template's line changes,
    the copy must fail loudly rather than silently run the generated limit."""
    project = render_cookiecutter(tmp_path, server=server)
    forced = FORCED_RECYCLING[server]
    limit = forced.limit(requests_per_second=forced.workers * 1000)
    assert limit == 1000 * forced.seconds
    forced.write(project, limit)
    original, lowered = (project / forced.source).read_text(), (project / forced.copy).read_text()
    assert forced.line.format(forced.generated) in original and forced.line.format(limit) in lowered
    assert lowered.replace(forced.line.format(limit), forced.line.format(forced.generated)) == original
    (project / forced.source).write_text(original.replace(forced.line.format(forced.generated), forced.line.format(7)))
    with pytest.raises(RuntimeError, match="no longer says"):
        forced.write(project, limit)


def test_a_forced_recycling_row_brings_the_row_its_limit_comes_from(tmp_path):
    by_name = {stack.name: stack for stack in stacks(tmp_path)}
    for stack in by_name.values():
        if stack.forced_recycling:
            assert stack.derives_from in by_name
            chosen = [s.name for s in select(list(by_name.values()), [stack.name])]
            assert chosen.index(stack.derives_from) < chosen.index(stack.name)
