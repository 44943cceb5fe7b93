"""PSO and the BP estimators: the optimiser optimises, the networks learn, bad input is refused."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import r2_score

from analytics.pso import (BPRegressor, Layout, PSOBPRegressor, RestartsBPRegressor, one_thread, pso_minimize,
                          pso_update)

FAST = dict(hidden=(8,), epochs=300, lr=0.02, patience=40)


def sphere(x: torch.Tensor) -> torch.Tensor:
    return (x ** 2).sum(dim=1)


def rosenbrock(x: torch.Tensor) -> torch.Tensor:
    return (100 * (x[:, 1:] - x[:, :-1] ** 2) ** 2 + (1 - x[:, :-1]) ** 2).sum(dim=1)


def swarm(particles: int, dims: int, spread: float, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(particles, dims, generator=g, dtype=torch.float64) * 2 - 1) * spread


def test_pso_minimises_the_sphere_far_below_its_start():
    start = swarm(20, 5, 5.0)
    result = pso_minimize(sphere, start, iterations=150, max_velocity=2.0, bound=5.0,
                          generator=torch.Generator().manual_seed(1))
    assert result.history[0] == pytest.approx(float(sphere(start).min()))
    assert result.best_value < 1e-4 < result.history[0] / 100
    assert all(b <= a for a, b in zip(result.history, result.history[1:]))  # gbest never gets worse
    assert len(result.history) == 151
    assert result.evaluations == 20 * 151
    assert float(sphere(result.best_position[None, :])[0]) == pytest.approx(result.best_value)


def test_pso_finds_the_rosenbrock_valley_floor():
    start = swarm(30, 2, 2.0, seed=3)
    result = pso_minimize(rosenbrock, start, iterations=300, max_velocity=1.0, bound=3.0,
                          generator=torch.Generator().manual_seed(4))
    assert result.best_value < 1e-3 < result.history[0]
    assert torch.allclose(result.best_position, torch.ones(2, dtype=torch.float64), atol=0.05)


def test_pso_treats_a_non_finite_fitness_as_worst():
    def nan_for_negative_first(x: torch.Tensor) -> torch.Tensor:
        return torch.where(x[:, 0] < 0, torch.nan, sphere(x))

    result = pso_minimize(nan_for_negative_first, swarm(10, 2, 1.0), iterations=30,
                          generator=torch.Generator().manual_seed(0))
    assert np.isfinite(result.best_value) and result.best_position[0] >= 0


def test_velocity_update_is_the_textbook_rule():
    x, v = torch.tensor([[1.0, -2.0]]), torch.tensor([[0.5, 0.25]])
    pbest, gbest = torch.tensor([[2.0, 0.0]]), torch.tensor([3.0, 1.0])
    # c1 = c2 = 0: only inertia is left, no randomness.
    x1, v1 = pso_update(x, v, pbest, gbest, inertia=0.5, c1=0.0, c2=0.0)
    assert torch.allclose(v1, torch.tensor([[0.25, 0.125]])) and torch.allclose(x1, x + v1)
    # With r1, r2 replayed from the same generator state the full rule holds.
    g = torch.Generator().manual_seed(7)
    r1 = torch.rand(x.shape, generator=torch.Generator().manual_seed(7))
    r2_gen = torch.Generator().manual_seed(7)
    torch.rand(x.shape, generator=r2_gen)
    r2 = torch.rand(x.shape, generator=r2_gen)
    x2, v2 = pso_update(x, v, pbest, gbest, inertia=0.72, c1=1.49, c2=1.49, generator=g)
    expected = 0.72 * v + 1.49 * r1 * (pbest - x) + 1.49 * r2 * (gbest - x)
    assert torch.allclose(v2, expected) and torch.allclose(x2, x + expected)


def test_velocity_and_position_stay_in_their_bounds():
    g = torch.Generator().manual_seed(0)
    x = swarm(50, 10, 1.0)
    v = torch.zeros_like(x)
    far = torch.full((10,), 1000.0, dtype=torch.float64)
    for _ in range(20):
        x, v = pso_update(x, v, -far.expand_as(x), far, inertia=0.9, c1=2.0, c2=2.0, max_velocity=0.3,
                          bound=2.0, generator=g)
        assert v.abs().max() <= 0.3 + 1e-12
        assert x.abs().max() <= 2.0 + 1e-12
    # a particle pushed through the wall stops there and loses its velocity
    at_wall = torch.full((4, 3), 2.0)
    outward = torch.full((3,), 50.0)
    x, v = pso_update(at_wall, torch.ones(4, 3), outward.expand(4, 3), outward, inertia=0.72, c1=1.49,
                      c2=1.49, max_velocity=0.3, bound=2.0, generator=g)
    assert torch.all(x == 2.0) and torch.all(v == 0)


def test_pso_refuses_a_malformed_swarm():
    with pytest.raises(ValueError):
        pso_minimize(sphere, torch.zeros(5), iterations=3)
    with pytest.raises(ValueError):
        pso_minimize(lambda x: x.sum(), torch.zeros(4, 2), iterations=3)


def test_batched_forward_matches_one_network_at_a_time():
    layout = Layout(3, (5, 4))
    theta = layout.initial(6, "tanh", torch.Generator().manual_seed(0))
    x = torch.randn(11, 3, generator=torch.Generator().manual_seed(1))
    together = layout.forward(theta, x, "tanh")
    assert together.shape == (6, 11)
    for i in range(6):
        (w1, b1), (w2, b2), (w3, b3) = [(w[0], b[0]) for w, b in layout.unpack(theta[i:i + 1])]
        alone = torch.tanh(torch.tanh(x @ w1 + b1) @ w2 + b2) @ w3 + b3
        assert torch.allclose(together[i], alone[:, 0], atol=1e-6)
    assert layout.size == 3 * 5 + 5 + 5 * 4 + 4 + 4 + 1


@pytest.fixture(scope="module")
def curve():
    """y = sin(2 x0) + x1² − x0·x2 + noise: a linear model explains almost none of the x1² part."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1.5, 1.5, (500, 3))
    y = np.sin(2 * x[:, 0]) + x[:, 1] ** 2 - x[:, 0] * x[:, 2] + rng.normal(0, 0.05, 500)
    return x[:400], y[:400], x[400:], y[400:]


ESTIMATORS = {
    "bp": lambda: BPRegressor(**FAST),
    "bp_lbfgs": lambda: BPRegressor(solver="lbfgs", hidden=(8,), epochs=60, patience=10),
    "restarts": lambda: RestartsBPRegressor(n_restarts=3, **FAST),
    "pso_bp": lambda: PSOBPRegressor(n_particles=15, iterations=30, **FAST),
}


@pytest.mark.parametrize("name", ESTIMATORS)
def test_estimators_learn_a_nonlinear_function(name, curve):
    x, y, x_test, y_test = curve
    model = ESTIMATORS[name]().fit(x, y)
    predicted = model.predict(x_test)
    assert predicted.shape == (100,) and predicted.dtype == np.float64
    assert r2_score(y_test, predicted) > 0.8  # the mean scores 0; a linear fit about 0.4
    assert model.n_features_in_ == 3
    assert model.loss_curve_ and model.n_evaluations_ > 0
    assert model.loss_curve_[-1] < model.loss_curve_[0]


def test_same_seed_same_model_other_seed_other_model(curve):
    x, y, x_test, _ = curve
    a = PSOBPRegressor(n_particles=10, iterations=10, seed=5, **FAST).fit(x, y).predict(x_test)
    b = PSOBPRegressor(n_particles=10, iterations=10, seed=5, **FAST).fit(x, y).predict(x_test)
    c = PSOBPRegressor(n_particles=10, iterations=10, seed=6, **FAST).fit(x, y).predict(x_test)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)
    d = RestartsBPRegressor(n_restarts=2, seed=1, **FAST).fit(x, y).predict(x_test)
    e = RestartsBPRegressor(n_restarts=2, seed=1, **FAST).fit(x, y).predict(x_test)
    assert np.array_equal(d, e)


def test_pso_bp_records_its_search(curve):
    x, y, _, _ = curve
    model = PSOBPRegressor(n_particles=12, iterations=25, **FAST).fit(x, y)
    history = model.gbest_history_
    assert len(history) == 26
    assert all(b <= a for a, b in zip(history, history[1:])) and history[-1] < history[0]
    assert model.pso_evaluations_ == 12 * 26
    assert model.n_evaluations_ == model.pso_evaluations_ + 3 * model.n_epochs_


def test_restarts_keep_the_best_start(curve):
    x, y, _, _ = curve
    model = RestartsBPRegressor(n_restarts=4, **FAST).fit(x, y)
    assert len(model.restart_validation_losses_) == 4
    assert model.best_validation_loss_ == min(model.restart_validation_losses_)


def test_restarts_train_exactly_like_separate_runs(curve):
    """Adam on the stacked starts must give each network what it would reach alone,
    including its own early stop."""
    x, y, _, _ = curve
    model = BPRegressor(**FAST)
    data = model._prepare(x, y)
    layout = Layout(3, (8,))
    starts = layout.initial(3, "tanh", torch.Generator().manual_seed(0))
    with one_thread():
        together = model._train_adam(layout, starts, data)
        alone = [model._train_adam(layout, starts[i:i + 1], data)[0] for i in range(3)]
    assert len({t.epochs for t in together}) > 1  # they did stop at different epochs
    for i in range(3):
        assert together[i].epochs == alone[i].epochs
        assert together[i].val_loss == pytest.approx(alone[i].val_loss, rel=1e-4)
        assert torch.allclose(together[i].theta, alone[i].theta, atol=1e-4)


@pytest.mark.parametrize("make", [BPRegressor, RestartsBPRegressor, PSOBPRegressor])
def test_bad_input_is_refused(make):
    x = np.random.default_rng(0).normal(size=(20, 2))
    y = x[:, 0]
    model = make(epochs=5, **({"iterations": 2, "n_particles": 3} if make is PSOBPRegressor else {}))
    with pytest.raises(ValueError):
        model.fit(x, y[:-1])  # lengths differ
    with pytest.raises(ValueError):
        model.fit(np.where(np.eye(20, 2) == 1, np.nan, x), y)
    with pytest.raises(ValueError):
        model.fit(np.empty((0, 2)), np.empty(0))
    with pytest.raises(ValueError):
        model.fit(x, np.where(np.arange(20) == 3, np.inf, y))
    with pytest.raises(NotFittedError):  # a ValueError too
        model.predict(x)
    model.fit(x, y)
    with pytest.raises(ValueError):
        model.predict(x[:, :1])  # a feature short
    with pytest.raises(ValueError):
        make(hidden=(0,)).fit(x, y)
    with pytest.raises(ValueError):
        make(activation="sigmoid").fit(x, y)


def test_scikit_learn_conventions():
    model = PSOBPRegressor(n_particles=7, seed=2)
    params = model.get_params()
    assert params["n_particles"] == 7 and params["seed"] == 2 and params["inertia"] == 0.72
    twin = clone(model)
    assert twin.get_params() == params and not hasattr(twin, "theta_")
    assert RestartsBPRegressor(n_restarts=2).set_params(lr=0.1).lr == 0.1


def test_tiny_data_trains_without_a_validation_split():
    x = np.linspace(-1, 1, 8)[:, None]
    model = BPRegressor(epochs=200, lr=0.05).fit(x, 2 * x[:, 0])
    assert model.predict(x).shape == (8,)
    assert np.abs(model.predict(x) - 2 * x[:, 0]).max() < 0.5
