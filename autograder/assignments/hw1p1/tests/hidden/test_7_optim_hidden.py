"""Tasks 7.1, 7.2 (hidden cases): SGD and Adam against the reference, 5 steps each; hyperparameters changed
between steps (learning-rate schedules set opt.lr), parameters without a gradient in some steps."""

import pytest
from hw1p1_checks import optimizer_case


@pytest.mark.rubric(task="7.1", weight=1)
@pytest.mark.parametrize(
    "options, skip",
    [
        pytest.param({"lr": 0.1}, (), id="plain"),
        pytest.param({"lr": 0.05, "momentum": 0.9}, (), id="momentum"),
        pytest.param({"lr": 0.1, "weight_decay": 0.01}, (), id="weight_decay"),
        pytest.param({"lr": 0.05, "momentum": 0.8, "weight_decay": 0.1}, (), id="momentum+wd"),
        pytest.param({"lr": 0.05, "momentum": 0.9}, ((1, 1), (2, 1)), id="none_grad_skipped"),
    ],
)
def test_sgd(student, reference, rng, options, skip):
    optimizer_case(student, reference, rng, "sgd", options, skip=skip)


@pytest.mark.rubric(task="7.2", weight=1)
@pytest.mark.parametrize(
    "options, skip",
    [
        pytest.param({"lr": 0.001}, (), id="default"),
        pytest.param({"lr": 0.1, "betas": [0.8, 0.99]}, (), id="betas"),
        pytest.param({"lr": 0.01, "eps": 1e-3}, (), id="eps"),
        pytest.param({"lr": 0.05, "betas": [0.5, 0.9]}, (), id="fast_betas"),
        pytest.param({"lr": 0.01}, ((0, 0), (3, 1)), id="none_grad_skipped"),
    ],
)
def test_adam(student, reference, rng, options, skip):
    optimizer_case(student, reference, rng, "adam", options, skip=skip)


LR_SCHEDULE = [{}, {"lr": 0.02}, {}, {"lr": 0.2}, {"lr": 0.07}]


@pytest.mark.rubric(task="7.1", weight=1)
@pytest.mark.parametrize(
    "options, skip, schedule",
    [
        pytest.param({"lr": 0.1, "momentum": 0.9}, (), LR_SCHEDULE, id="momentum,lr_schedule"),
        pytest.param(
            {"lr": 0.05, "momentum": 0.8, "weight_decay": 0.1},
            ((2, 0),),
            LR_SCHEDULE,
            id="momentum+wd,lr_schedule,none_grad",
        ),
        pytest.param(
            {"lr": 0.1},
            ((0, 1), (3, 1)),
            [{}, {}, {"momentum": 0.5}, {}, {"weight_decay": 0.05}],
            id="momentum_and_wd_switched_on",
        ),
    ],
)
def test_sgd_changing_hyperparameters(student, reference, rng, options, skip, schedule):
    optimizer_case(student, reference, rng, "sgd", options, skip=skip, schedule=schedule)


@pytest.mark.rubric(task="7.2", weight=1)
@pytest.mark.parametrize(
    "options, skip, schedule",
    [
        pytest.param({"lr": 0.05}, ((1, 0), (2, 0)), LR_SCHEDULE, id="lr_schedule,none_grad"),
        pytest.param(
            {"lr": 0.01, "betas": [0.9, 0.99]},
            (),
            [{}, {}, {"betas": [0.5, 0.9]}, {}, {"eps": 1e-2}],
            id="betas_and_eps_changed",
        ),
    ],
)
def test_adam_changing_hyperparameters(student, reference, rng, options, skip, schedule):
    optimizer_case(student, reference, rng, "adam", options, skip=skip, schedule=schedule)
