"""The install-times benchmark's table (bench/install_times.py): medians, ranges and both ratios, from known rounds."""

from bench.install_times import Round, Timings, stack_rows


def test_rows_give_medians_ranges_and_ratios():
    timings = Timings()
    timings.rounds["old"] = [Round(60, 20), Round(70, 30), Round(80, 25)]
    timings.rounds["new"] = [Round(90, 20, 30), Round(100, 33, 31), Round(95, 25, 29)]
    first_install, redeploy = stack_rows("a-stack", timings)
    # Per round: 90/60 = 1.5, 100/70 = 1.43, 95/80 = 1.19; the ratio of the medians is 95/70.
    assert first_install == (
        "| a-stack | first install | 70.0 (60 to 80) | 95.0 (90 to 100) | 1.36 | 1.43 (1.19 to 1.5) |"
    )
    assert redeploy == (
        "| a-stack | redeploy, unchanged dependencies | 25.0 (20 to 30) | 25.0 (20 to 33) | 1.00 | 1.00 (1 to 1.1) |"
    )
