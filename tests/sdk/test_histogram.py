import numpy as np
import pytest

import darkroom


def _history(run):
    return list(darkroom.Api().run(run.path).scan_history())


def test_a_sequence_is_binned_with_np_histogram_over_its_finite_range(embedded_env):
    values = np.random.default_rng(0).normal(size=10_000).astype(np.float32)
    run = darkroom.init(project="hist")
    run.log({"h": darkroom.Histogram(values, num_bins=16)})
    run.finish(quiet=True)
    stored = _history(run)[0]["h"]
    counts, edges = np.histogram(values, bins=16)
    assert stored["_type"] == "histogram"
    assert stored["values"] == counts.tolist()
    np.testing.assert_allclose(stored["bins"], edges)
    assert "excluded" not in stored


def test_nan_and_infinities_are_excluded_and_counted(embedded_env):
    values = np.array([1.0, 2.0, np.nan, np.inf, -np.inf, np.nan, 3.0])
    run = darkroom.init(project="hist")
    run.log({"h": darkroom.Histogram(values, num_bins=2)})
    run.finish(quiet=True)
    stored = _history(run)[0]["h"]
    assert sum(stored["values"]) == 3
    assert stored["excluded"] == {"nan": 2, "inf": 2}


def test_np_histogram_input_is_stored_as_given(embedded_env):
    counts, edges = np.histogram([1, 2, 2, 3], bins=3)
    run = darkroom.init(project="hist")
    run.log({"h": darkroom.Histogram(np_histogram=(counts, edges))})
    run.finish(quiet=True)
    assert _history(run)[0]["h"]["values"] == [1, 2, 1]


def test_a_large_array_logged_directly_becomes_a_32_bin_histogram_and_small_ones_stay_values(embedded_env):
    run = darkroom.init(project="hist")
    run.log({"big": np.arange(1000), "small": np.arange(5), "one": np.array([7.5])})
    run.finish(quiet=True)
    row = _history(run)[0]
    assert row["big"]["_type"] == "histogram" and len(row["big"]["values"]) == 32
    assert row["small"] == [0, 1, 2, 3, 4]
    assert row["one"] == 7.5


def test_a_histogram_works_as_a_summary_value(embedded_env):
    run = darkroom.init(project="hist")
    run.summary["dist"] = darkroom.Histogram([1, 2, 3], num_bins=3)
    run.finish(quiet=True)
    assert darkroom.Api().run(run.path).summary["dist"]["values"] == [1, 1, 1]


def test_the_caller_may_change_its_array_after_logging(embedded_env):
    values = np.zeros(100)
    run = darkroom.init(project="hist")
    run.log({"h": darkroom.Histogram(values, num_bins=4)})
    values[:] = 5.0
    run.finish(quiet=True)
    assert _history(run)[0]["h"]["bins"][0] == pytest.approx(-0.5)


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({}, TypeError, "exactly one of sequence= or np_histogram="),
        ({"sequence": [1], "np_histogram": ([1], [0, 1])}, TypeError, "exactly one"),
        ({"sequence": [1], "num_bins": 513}, ValueError, "num_bins=513; accepted: an int from 1 to 512"),
        ({"sequence": [1], "num_bins": 0}, ValueError, "from 1 to 512"),
        ({"np_histogram": ([1, 2], [0, 1])}, ValueError, "2 counts and 2 edges; accepted: len(edges) == len(counts) + 1"),
        ({"sequence": ["a", "b"]}, TypeError, "dtype"),
    ],
)
def test_bad_arguments_are_refused_at_construction_with_what_is_accepted(kwargs, error, text):
    with pytest.raises(error, match=None) as info:
        darkroom.Histogram(**kwargs)
    assert text in str(info.value)
