"""Task 8 (hidden): train_step entered with stale gradients left by earlier work (issue 9: a train_step that
clears gradients only after the update is right from its second call on, and wrong on entry)."""

import pytest
from hw1p1_checks import train_step_case


@pytest.mark.rubric(task="8", weight=1)
def test_train_step_with_stale_gradients(student, reference, rng):
    train_step_case(student, reference, rng, n=5, sizes=(3, 5, 7), steps=2, stale=True)
