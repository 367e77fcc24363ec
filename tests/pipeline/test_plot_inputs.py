"""Tests of darkroom.pipeline.plot_inputs: the shape, length and class-count rules of chart inputs."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from darkroom.pipeline import plot_inputs as rules
from darkroom.pipeline.errors import InvalidInput


def test_accepted_inputs_give_their_length_and_classes() -> None:
    assert rules.vector_length((4,), "y_true") == 4
    assert rules.vector_length((4,), "preds", 4) == 4
    assert rules.score_classes((4, 3), 4, "y_probas") == 3
    rules.preds_or_probs(True, False, "a confusion matrix")
    rules.names_per_class(3, 3, "labels", "y_probas")
    rules.names_per_class(5, None, "class_names", "probs")
    rules.indices_within(0, 2, 3, "y_true", "the classes")
    rules.matrix_shape((2, 3), 2, 3, "matrix_values")


@pytest.mark.parametrize("check, message", [
    (lambda: rules.vector_length((2, 2), "y_true"), "y_true has shape (2, 2); accepted: (n,) with n >= 1"),
    (lambda: rules.vector_length((0,), "y_true"), "y_true has shape (0,); accepted: (n,) with n >= 1"),
    (lambda: rules.vector_length((3,), "preds", 2), "preds has 3 values for 2 in y_true; they must match"),
    (lambda: rules.score_classes((2,), 2, "y_probas"),
     "y_probas has shape (2,); accepted: (n, classes) with n = 2 (the length of y_true); "
     "for binary scores p pass np.stack([1 - p, p], axis=1)"),
    (lambda: rules.score_classes((2, 0), 2, "probs"),
     "probs has shape (2, 0); accepted: (n, classes) with n = 2 (the length of y_true)"),
    (lambda: rules.score_classes((3, 2), 2, "probs"), "probs has 3 rows for 2 values in y_true; they must match"),
    (lambda: rules.preds_or_probs(False, False, "a confusion matrix"),
     "a confusion matrix takes exactly one of preds= (class indices) or probs= (scores); got neither"),
    (lambda: rules.names_per_class(0, None, "class_names", "probs"),
     "class_names is empty; accepted: a name per class"),
    (lambda: rules.names_per_class(2, 3, "labels", "y_probas"),
     "labels has 2 names for the 3 columns of y_probas; they must match"),
    (lambda: rules.indices_within(-1, 5, 3, "y_true", "the classes"),
     "y_true holds class index -1, outside 0..2 (the classes)"),
    (lambda: rules.indices_within(0, 3, 3, "classes_to_plot", "the columns of y_probas"),
     "classes_to_plot holds class index 3, outside 0..2 (the columns of y_probas)"),
    (lambda: rules.matrix_shape((3, 2), 2, 3, "matrix_values"),
     "matrix_values has shape (3, 2); accepted: (len(y_labels), len(x_labels)) = (2, 3), not empty"),
])
def test_each_rule_refuses_as_invalid_plot_saying_what_is_accepted(check: Callable[[], object], message: str) -> None:
    with pytest.raises(InvalidInput) as info:
        check()
    assert (info.value.code, info.value.message) == ("invalid_plot", message)
