"""Small back-propagation (BP) networks for tabular regression, with and without
particle swarm optimisation (PSO) of their starting weights.

The patent scores service steps with a BP network "optimised by PSO". What PSO can
add to a small MLP is a better *starting point*: gradient descent from a random
start can land in a poor local minimum, and PSO searches many starts at once. The
honest rival to that is the cheap trick of training from several random starts and
keeping the best, so this module has all three, with one shared training loop:

- ``BPRegressor``: one network, one random start.
- ``RestartsBPRegressor``: ``n_restarts`` random starts, the best on the internal
  validation split is kept.
- ``PSOBPRegressor``: a swarm of weight vectors drawn from the same prior as the
  random starts, moved by PSO to lower training loss, then BP fine-tunes ``gbest``.

All follow scikit-learn's conventions (constructor arguments only stored, learned
state ending in ``_``, ``ValueError`` on bad input) so they work in ``Pipeline``,
``clone`` and ``cross_val_score``. X and y are standardised internally.

How the networks are represented. A network's parameters are one flat vector θ
(layer by layer: weights, then biases), and k networks are a (k, D) tensor. The
forward pass of all k at once is a batched matmul (``X @ W`` broadcasts over k). This
makes a PSO fitness evaluation of the whole swarm one call, and lets k random restarts
train together: Adam's update is element-wise, so Adam on the stacked tensor with the
summed loss is exactly k independent Adam runs.

The cost of a fit is counted in *network evaluations*: one forward pass of one
network over the training rows. A gradient step counts as 3 (forward + backward,
which costs about twice a forward); validation passes are not counted. This is the
unit ``steps_report`` uses to give random restarts the same budget as PSO-BP.

PSO over hyper-parameters (learning rate, weight decay) is deliberately not done: the
fitness here is the training loss of the weights themselves, which does not depend
on the learning rate at all and always prefers the smallest weight decay. Searching
them would need a BP training per particle per iteration (particles × iterations
trainings) to evaluate a validation loss, which is far outside the budget this
module compares at.

Everything runs in float32 on one CPU thread (``torch.set_num_threads(1)`` for the
duration of a fit or predict, restored afterwards): the networks are tiny, threads
would only fight the other processes on the machine, and one thread is deterministic.

The module is long because PSO, the batched networks and the three estimators that
share them (BP, BP with restarts, PSO-BP) must agree on one weight layout and budget.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"tanh": torch.tanh, "relu": torch.relu}
SOLVERS = ("adam", "lbfgs")
GRADIENT_STEP_COST = 3  # network evaluations per gradient step (forward + backward)
MIN_VALIDATION_ROWS = 5  # below this, early stopping watches the training loss instead
IMPROVEMENT = 1e-6  # a validation loss must drop by this much to count as better
LBFGS_ITERATIONS = 10  # L-BFGS iterations per epoch (one early-stopping check)


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread inside the block, then restore the previous setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# --- particle swarm optimisation --------------------------------------------------------------


@dataclass
class PSOResult:
    best_position: torch.Tensor  # (D,)
    best_value: float
    history: list[float]  # gbest fitness at the start and after each iteration
    evaluations: int  # fitness evaluations of single particles


def pso_update(positions: torch.Tensor, velocities: torch.Tensor, pbest: torch.Tensor, gbest: torch.Tensor,
               *, inertia: float, c1: float, c2: float, max_velocity: float | None = None,
               bound: float | None = None, generator: torch.Generator | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """One PSO move of every particle: ``v = w·v + c1·r1·(pbest − x) + c2·r2·(gbest − x)``,
    then ``x = x + v``. r1, r2 are uniform on [0, 1), drawn per particle and dimension.

    Velocities are clamped to ±``max_velocity`` and positions to ±``bound``; a particle
    that hits the wall loses its velocity in that dimension (it does not keep pushing
    into the wall and its next move starts afresh). Returns (positions, velocities).
    """
    r1 = torch.rand(positions.shape, generator=generator, dtype=positions.dtype)
    r2 = torch.rand(positions.shape, generator=generator, dtype=positions.dtype)
    velocities = inertia * velocities + c1 * r1 * (pbest - positions) + c2 * r2 * (gbest - positions)
    if max_velocity is not None:
        velocities = velocities.clamp(-max_velocity, max_velocity)
    positions = positions + velocities
    if bound is not None:
        outside = positions.abs() > bound
        positions = positions.clamp(-bound, bound)
        velocities = torch.where(outside, torch.zeros_like(velocities), velocities)
    return positions, velocities


def pso_minimize(fitness: Callable[[torch.Tensor], torch.Tensor], initial_positions: torch.Tensor, *,
                 iterations: int = 100, inertia: float = 0.72, c1: float = 1.49, c2: float = 1.49,
                 max_velocity: float | None = None, bound: float | None = None,
                 generator: torch.Generator | None = None) -> PSOResult:
    """Global-best PSO: minimise ``fitness`` ((P, D) positions → (P,) values, the whole
    swarm in one call) starting from ``initial_positions`` (P, D).

    The defaults w = 0.72, c1 = c2 = 1.49 are the usual constriction-equivalent
    settings (Clerc & Kennedy), for which the swarm converges without a velocity limit;
    the limit and the box are still useful when positions are network weights, where
    large values saturate tanh units. Velocities start at zero: the first move is then
    purely towards gbest, while random initial velocities in many dimensions mostly
    throw particles against the walls. A non-finite fitness counts as +inf.
    """
    if initial_positions.ndim != 2 or initial_positions.shape[0] < 1:
        raise ValueError("initial_positions must be a (particles, dimensions) tensor")
    if iterations < 0:
        raise ValueError("iterations must be >= 0")

    def evaluate(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            values = fitness(x).detach().reshape(-1)
        if values.shape[0] != x.shape[0]:
            raise ValueError("fitness must return one value per particle")
        return torch.nan_to_num(values, nan=math.inf, posinf=math.inf)

    positions = initial_positions.detach().clone()
    if bound is not None:
        positions = positions.clamp(-bound, bound)
    velocities = torch.zeros_like(positions)
    pbest, pbest_value = positions.clone(), evaluate(positions)
    g = int(torch.argmin(pbest_value))
    history = [float(pbest_value[g])]
    for _ in range(iterations):
        positions, velocities = pso_update(positions, velocities, pbest, pbest[g], inertia=inertia, c1=c1,
                                           c2=c2, max_velocity=max_velocity, bound=bound, generator=generator)
        value = evaluate(positions)
        better = value < pbest_value
        pbest[better], pbest_value[better] = positions[better], value[better]
        g = int(torch.argmin(pbest_value))
        history.append(float(pbest_value[g]))
    return PSOResult(best_position=pbest[g].clone(), best_value=history[-1], history=history,
                     evaluations=positions.shape[0] * (iterations + 1))


# --- batched networks ------------------------------------------------------------------------


class Layout:
    """Where each layer's weights and biases sit in the flat parameter vector."""

    def __init__(self, n_inputs: int, hidden: tuple[int, ...]) -> None:
        sizes = (n_inputs, *hidden, 1)
        self.shapes = list(zip(sizes[:-1], sizes[1:]))
        self.size = sum(i * o + o for i, o in self.shapes)

    def unpack(self, theta: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(k, D) → per layer (W (k, in, out), b (k, out)), as views."""
        layers, at = [], 0
        for fan_in, fan_out in self.shapes:
            w = theta[:, at:at + fan_in * fan_out].reshape(-1, fan_in, fan_out)
            at += fan_in * fan_out
            b = theta[:, at:at + fan_out]
            at += fan_out
            layers.append((w, b))
        return layers

    def initial(self, k: int, activation: str, generator: torch.Generator) -> torch.Tensor:
        """k random networks: Glorot-uniform weights for tanh (He-uniform for relu), biases
        uniform on ±1/√fan_in as torch's Linear does. Random restarts and the PSO swarm
        both draw from this, so PSO starts from the same prior it is compared against."""
        parts = []
        for fan_in, fan_out in self.shapes:
            limit = math.sqrt(6.0 / (fan_in + fan_out)) if activation == "tanh" else math.sqrt(6.0 / fan_in)
            parts.append((torch.rand(k, fan_in * fan_out, generator=generator) * 2 - 1) * limit)
            parts.append((torch.rand(k, fan_out, generator=generator) * 2 - 1) / math.sqrt(fan_in))
        return torch.cat(parts, dim=1)

    def forward(self, theta: torch.Tensor, x: torch.Tensor, activation: str) -> torch.Tensor:
        """Predictions of k networks for n rows: (k, D), (n, d) → (k, n)."""
        act = ACTIVATIONS[activation]
        layers = self.unpack(theta)
        h = x
        for i, (w, b) in enumerate(layers):
            h = torch.matmul(h, w) + b[:, None, :]  # (n, in) @ (k, in, out) broadcasts to (k, n, out)
            if i < len(layers) - 1:
                h = act(h)
        return h[..., 0]

    def squared_weights(self, theta: torch.Tensor) -> torch.Tensor:
        """Σ W² per network (biases are not decayed)."""
        return sum((w ** 2).sum(dim=(1, 2)) for w, _ in self.unpack(theta))


@dataclass
class _Data:
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    split: bool  # False: too few rows, early stopping watches the training loss


@dataclass
class _Trained:
    theta: torch.Tensor  # (D,)
    val_loss: float
    val_losses: list[float]  # best validation loss of each network trained
    train_curve: list[float]
    val_curve: list[float]
    epochs: int
    evaluations: int


# --- the estimators -------------------------------------------------------------------------


class BPRegressor(RegressorMixin, BaseEstimator):
    """A small MLP trained by back-propagation, full batch.

    ``hidden``: units per hidden layer; ``activation``: tanh or relu; ``solver``: adam
    (``lr`` is its step size) or lbfgs (strong-Wolfe line search, step length 1, ``lr``
    ignored; one epoch is up to 10 L-BFGS iterations, because torch's L-BFGS called for a
    single iteration at a time stalls after a few); ``epochs``: at most this many
    full-batch epochs; ``weight_decay``: the loss
    is MSE + weight_decay/2·ΣW² on standardised data; ``validation_fraction`` of the rows
    is held out to stop early after ``patience`` epochs without improvement, and the
    weights of the best validation epoch are kept (with fewer than 5 rows on either
    side of the split, all rows train and the training loss is watched instead).

    Learned: ``coefs_`` ([(W, b)] per layer, numpy), ``loss_curve_`` (training loss per
    epoch), ``validation_curve_``, ``best_validation_loss_``, ``n_epochs_``,
    ``n_evaluations_`` (network evaluations spent, see the module docstring),
    ``fit_seconds_``, ``n_features_in_``.
    """

    def __init__(self, hidden: tuple[int, ...] = (8,), activation: str = "tanh", solver: str = "adam",
                 epochs: int = 500, lr: float = 0.01, weight_decay: float = 1e-3,
                 validation_fraction: float = 0.2, patience: int = 50, seed: int = 0) -> None:
        self.hidden = hidden
        self.activation = activation
        self.solver = solver
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.seed = seed

    # subclasses choose the starting weights; BP: one random network
    def _starts(self, layout: Layout, data: _Data, generator: torch.Generator) -> tuple[torch.Tensor, int]:
        """The (k, D) networks to train, and the evaluations spent choosing them."""
        return layout.initial(1, self.activation, generator), 0

    def _check_params(self) -> None:
        hidden = tuple(self.hidden)
        if not hidden or any(int(h) != h or h < 1 for h in hidden):
            raise ValueError(f"hidden must be positive layer sizes, got {self.hidden!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {self.solver!r}")
        if self.epochs < 0 or self.patience < 1 or self.lr <= 0 or self.weight_decay < 0:
            raise ValueError("need epochs >= 0, patience >= 1, lr > 0 and weight_decay >= 0")
        if not 0 <= self.validation_fraction < 1:
            raise ValueError("validation_fraction must be in [0, 1)")

    def fit(self, X, y) -> BPRegressor:
        self._check_params()
        X, y = validate_data(self, X, y, y_numeric=True, ensure_min_samples=2, dtype=np.float64)
        started = time.perf_counter()
        with one_thread():
            generator = torch.Generator().manual_seed(int(self.seed))
            data = self._prepare(X, y)
            layout = Layout(X.shape[1], tuple(int(h) for h in self.hidden))
            starts, spent = self._starts(layout, data, generator)
            trained = self._train(layout, starts, data)
        self.theta_ = trained.theta.numpy().astype(np.float64)
        self.coefs_ = [(w[0].numpy().copy(), b[0].numpy().copy())
                       for w, b in layout.unpack(trained.theta[None, :])]
        self.loss_curve_ = trained.train_curve
        self.validation_curve_ = trained.val_curve
        self.best_validation_loss_ = trained.val_loss
        self.n_epochs_ = trained.epochs
        self.n_evaluations_ = spent + trained.evaluations
        self.fit_seconds_ = time.perf_counter() - started
        self._record(trained)
        return self

    def _record(self, trained: _Trained) -> None:
        """Subclasses keep what else they learned."""

    def _prepare(self, X: np.ndarray, y: np.ndarray) -> _Data:
        self.x_mean_ = X.mean(axis=0)
        scale = X.std(axis=0)
        self.x_scale_ = np.where(scale > 1e-12, scale, 1.0)
        self.y_mean_ = float(y.mean())
        self.y_scale_ = float(y.std()) if y.std() > 1e-12 else 1.0
        xs = torch.as_tensor((X - self.x_mean_) / self.x_scale_, dtype=torch.float32)
        ys = torch.as_tensor((y - self.y_mean_) / self.y_scale_, dtype=torch.float32)
        n = len(ys)
        n_val = int(round(n * self.validation_fraction))
        if n_val < MIN_VALIDATION_ROWS or n - n_val < MIN_VALIDATION_ROWS:
            return _Data(xs, ys, xs, ys, split=False)
        # The split has its own stream, so it is the same whatever the subclass draws.
        order = torch.randperm(n, generator=torch.Generator().manual_seed(int(self.seed) + 7919))
        val, train = order[:n_val], order[n_val:]
        return _Data(xs[train], ys[train], xs[val], ys[val], split=True)

    def _objective(self, layout: Layout, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per network: MSE + weight_decay/2 · ΣW² — what BP minimises and PSO's fitness."""
        mse = ((layout.forward(theta, x, self.activation) - y) ** 2).mean(dim=1)
        return mse + 0.5 * self.weight_decay * layout.squared_weights(theta)

    def _val_loss(self, layout: Layout, theta: torch.Tensor, data: _Data) -> torch.Tensor:
        with torch.no_grad():
            return ((layout.forward(theta, data.x_val, self.activation) - data.y_val) ** 2).mean(dim=1)

    def _train(self, layout: Layout, starts: torch.Tensor, data: _Data) -> _Trained:
        """Train every start with early stopping; keep the one with the best validation loss."""
        if self.solver == "adam":
            results = self._train_adam(layout, starts, data)
        else:
            results = [self._train_lbfgs(layout, starts[i:i + 1], data) for i in range(starts.shape[0])]
        best = min(range(len(results)), key=lambda i: results[i].val_loss)
        chosen = results[best]
        chosen.val_losses = [r.val_loss for r in results]
        chosen.evaluations = sum(r.evaluations for r in results)
        return chosen

    def _train_adam(self, layout: Layout, starts: torch.Tensor, data: _Data) -> list[_Trained]:
        k = starts.shape[0]
        theta = starts.clone().requires_grad_(True)
        optimiser = torch.optim.Adam([theta], lr=self.lr)
        best_val = self._val_loss(layout, starts, data)
        best_theta = starts.clone()
        since_best = torch.zeros(k, dtype=torch.long)
        active = torch.ones(k, dtype=torch.bool)
        stopped_at = torch.zeros(k, dtype=torch.long)
        train_curve: list[torch.Tensor] = []
        val_curve: list[torch.Tensor] = []
        steps = torch.zeros(k, dtype=torch.long)
        for epoch in range(self.epochs):
            optimiser.zero_grad()
            loss = self._objective(layout, theta, data.x_train, data.y_train)
            loss.sum().backward()
            optimiser.step()
            steps += active.long()
            val = self._val_loss(layout, theta.detach(), data)
            train_curve.append(loss.detach())
            val_curve.append(val)
            # A network that has stopped keeps moving with the others, but its best weights
            # are frozen: the result is that of k separate early-stopped runs.
            improved = active & (val < best_val - IMPROVEMENT)
            best_val = torch.where(improved, val, best_val)
            best_theta[improved] = theta.detach()[improved]
            since_best = torch.where(improved, 0, since_best + 1)
            now_stopped = active & (since_best >= self.patience)
            stopped_at[now_stopped] = epoch + 1
            active &= ~now_stopped
            if not active.any():
                break
        stopped_at[active] = len(train_curve)
        results = []
        for i in range(k):
            n = int(stopped_at[i])
            results.append(_Trained(
                theta=best_theta[i].clone(), val_loss=float(best_val[i]), val_losses=[],
                train_curve=[float(c[i]) for c in train_curve[:n]], val_curve=[float(c[i]) for c in val_curve[:n]],
                epochs=n, evaluations=GRADIENT_STEP_COST * int(steps[i])))
        return results

    def _train_lbfgs(self, layout: Layout, start: torch.Tensor, data: _Data) -> _Trained:
        theta = start.clone().requires_grad_(True)
        optimiser = torch.optim.LBFGS([theta], lr=1.0, max_iter=LBFGS_ITERATIONS, history_size=20,
                                      line_search_fn="strong_wolfe")
        calls = 0

        def closure() -> torch.Tensor:
            nonlocal calls
            calls += 1
            optimiser.zero_grad()
            loss = self._objective(layout, theta, data.x_train, data.y_train).sum()
            loss.backward()
            return loss

        best_val = float(self._val_loss(layout, start, data)[0])
        best_theta, since_best = start[0].clone(), 0
        train_curve, val_curve = [], []
        for _ in range(self.epochs):
            loss = optimiser.step(closure)
            val = float(self._val_loss(layout, theta.detach(), data)[0])
            train_curve.append(float(loss.detach()))
            val_curve.append(val)
            if val < best_val - IMPROVEMENT:
                best_val, best_theta, since_best = val, theta.detach()[0].clone(), 0
            else:
                since_best += 1
                if since_best >= self.patience:
                    break
        return _Trained(theta=best_theta, val_loss=best_val, val_losses=[], train_curve=train_curve,
                        val_curve=val_curve, epochs=len(train_curve), evaluations=GRADIENT_STEP_COST * calls)

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "theta_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        layout = Layout(self.n_features_in_, tuple(int(h) for h in self.hidden))
        with one_thread(), torch.no_grad():
            xs = torch.as_tensor((X - self.x_mean_) / self.x_scale_, dtype=torch.float32)
            theta = torch.as_tensor(self.theta_, dtype=torch.float32)[None, :]
            out = layout.forward(theta, xs, self.activation)[0].numpy().astype(np.float64)
        return out * self.y_scale_ + self.y_mean_


class RestartsBPRegressor(BPRegressor):
    """``n_restarts`` BP networks from independent random starts, trained side by side
    (exactly as separate runs, see the module docstring); the one with the lowest
    validation loss is kept. ``restart_validation_losses_`` has every start's."""

    def __init__(self, n_restarts: int = 5, hidden: tuple[int, ...] = (8,), activation: str = "tanh",
                 solver: str = "adam", epochs: int = 500, lr: float = 0.01, weight_decay: float = 1e-3,
                 validation_fraction: float = 0.2, patience: int = 50, seed: int = 0) -> None:
        super().__init__(hidden=hidden, activation=activation, solver=solver, epochs=epochs, lr=lr,
                         weight_decay=weight_decay, validation_fraction=validation_fraction,
                         patience=patience, seed=seed)
        self.n_restarts = n_restarts

    def _check_params(self) -> None:
        super()._check_params()
        if self.n_restarts < 1:
            raise ValueError("n_restarts must be >= 1")

    def _starts(self, layout: Layout, data: _Data, generator: torch.Generator) -> tuple[torch.Tensor, int]:
        return layout.initial(int(self.n_restarts), self.activation, generator), 0

    def _record(self, trained: _Trained) -> None:
        self.restart_validation_losses_ = trained.val_losses


class PSOBPRegressor(BPRegressor):
    """PSO over the flattened initial weights, then BP fine-tuning from ``gbest``.

    Each of ``n_particles`` particles is one network's weight vector, drawn from the
    same prior as a random restart; the fitness is the BP objective on the training
    rows (the validation rows stay unseen until fine-tuning stops early on them). All
    particles are evaluated in one batched forward pass per iteration. Positions stay
    in ±``position_bound`` (on standardised data a weight of 3 already saturates a tanh
    unit) and velocities in ±``max_velocity``.

    Learned, besides BPRegressor's: ``gbest_history_`` (gbest fitness at the start and
    after each iteration, never increasing), ``pso_evaluations_``; ``loss_curve_`` is
    the fine-tuning's.
    """

    def __init__(self, n_particles: int = 30, iterations: int = 100, inertia: float = 0.72, c1: float = 1.49,
                 c2: float = 1.49, position_bound: float = 3.0, max_velocity: float = 0.5,
                 hidden: tuple[int, ...] = (8,), activation: str = "tanh", solver: str = "adam",
                 epochs: int = 500, lr: float = 0.01, weight_decay: float = 1e-3,
                 validation_fraction: float = 0.2, patience: int = 50, seed: int = 0) -> None:
        super().__init__(hidden=hidden, activation=activation, solver=solver, epochs=epochs, lr=lr,
                         weight_decay=weight_decay, validation_fraction=validation_fraction,
                         patience=patience, seed=seed)
        self.n_particles = n_particles
        self.iterations = iterations
        self.inertia = inertia
        self.c1 = c1
        self.c2 = c2
        self.position_bound = position_bound
        self.max_velocity = max_velocity

    def _check_params(self) -> None:
        super()._check_params()
        if self.n_particles < 1 or self.iterations < 0:
            raise ValueError("need n_particles >= 1 and iterations >= 0")
        if self.position_bound <= 0 or self.max_velocity <= 0:
            raise ValueError("position_bound and max_velocity must be > 0")

    def _starts(self, layout: Layout, data: _Data, generator: torch.Generator) -> tuple[torch.Tensor, int]:
        swarm = layout.initial(int(self.n_particles), self.activation, generator)
        result = pso_minimize(
            lambda theta: self._objective(layout, theta, data.x_train, data.y_train), swarm,
            iterations=int(self.iterations), inertia=self.inertia, c1=self.c1, c2=self.c2,
            max_velocity=self.max_velocity, bound=self.position_bound, generator=generator)
        self.gbest_history_ = result.history
        self.pso_evaluations_ = result.evaluations
        return result.best_position[None, :], result.evaluations
