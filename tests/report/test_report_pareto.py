"""The Pareto front on hand-made points: ties, dominated points, missing accuracy."""

import math

import pytest

from edgecnn.report.pareto import dominated_by, dominates, front_mask, pareto_front, spans_decades


def test_dominated_points_are_left_out_and_front_is_ordered_by_cost():
    #          0     1     2     3     4
    costs = [10.0, 5.0, 20.0, 7.0, 30.0]
    accs = [70.0, 60.0, 69.0, 65.0, 80.0]
    # 2 is dominated by 0 (cheaper and more accurate); the rest trade off
    assert pareto_front(costs, accs) == [1, 3, 0, 4]
    assert front_mask(costs, accs) == [True, True, False, True, True]
    assert dominated_by(costs, accs)[2] == [0]


def test_exact_ties_are_both_on_the_front():
    costs = [5.0, 5.0, 9.0]
    accs = [70.0, 70.0, 72.0]
    assert pareto_front(costs, accs) == [0, 1, 2]
    assert not dominates((5.0, 70.0), (5.0, 70.0))


def test_equal_accuracy_at_higher_cost_is_dominated():
    assert pareto_front([5.0, 8.0], [70.0, 70.0]) == [0]
    assert dominates((5.0, 70.0), (8.0, 70.0))


def test_equal_cost_lower_accuracy_is_dominated():
    assert pareto_front([5.0, 5.0, 5.0], [60.0, 71.0, 65.0]) == [1]


def test_points_without_accuracy_or_cost_take_no_part():
    costs = [1.0, 2.0, None, 4.0, 0.5]
    accs = [None, 60.0, 99.0, float("nan"), 50.0]
    # 0 has no accuracy: although cheapest-but-one, it neither joins nor dominates
    assert pareto_front(costs, accs) == [4, 1]
    assert front_mask(costs, accs) == [False, True, False, False, True]
    assert dominated_by(costs, accs)[0] == []


def test_a_single_point_and_no_points():
    assert pareto_front([3.0], [50.0]) == [0]
    assert pareto_front([], []) == []
    assert pareto_front([None], [None]) == []


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError):
        pareto_front([1.0, 2.0], [1.0])


def test_more_accurate_and_cheaper_point_removes_the_whole_front():
    costs = [10.0, 20.0, 30.0, 1.0]
    accs = [50.0, 60.0, 70.0, 90.0]
    assert pareto_front(costs, accs) == [3]


def test_spans_decades_drives_log_axes():
    assert spans_decades([0.5, 20.0])  # 1.6 decades
    assert not spans_decades([3.0, 9.0])
    assert not spans_decades([5.0, None, math.inf])
