"""Exponential moving averages of the animating networks' weights (``train_params.weight_averaging``).

Not in FOM. Small models trained at a high learning rate wander from step to
step: a snapshot's quality depends on where it lands, and only a learning-rate
drop settled them (README, Training). The average of the last few hundred
steps' weights is what a drop would find, while the raw weights keep
learning at the high rate. Checkpoints carry the averages (``ema``) and
``export_weights`` ships them.
"""
from __future__ import annotations

import paddle

from ..errors import PpfomError

AVERAGED = ("kp_detector", "generator")  # what animation needs; the discriminator is not averaged


class WeightAverage:
    """``decay`` per step, warmed up as ``min(decay, (1 + n) / (10 + n))`` so early averages are not
    dominated by the weights the average started from."""

    def __init__(self, nets: dict[str, paddle.nn.Layer], decay: float):
        if not 0 < decay < 1:
            raise PpfomError(f"model.train_params.weight_averaging is {decay}: use a decay between 0 and 1, e.g. 0.998")
        self.nets, self.decay = nets, decay
        self.reset()

    def reset(self) -> None:
        """Start the averages from the networks' current weights."""
        self.updates = 0
        self.shadow = {name: {k: v.detach().clone() for k, v in self.nets[name].state_dict().items()}
                       for name in AVERAGED}

    @paddle.no_grad()
    def update(self) -> None:
        rate = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for name in AVERAGED:
            shadow = self.shadow[name]
            for key, value in self.nets[name].state_dict().items():
                if paddle.is_floating_point(value):
                    shadow[key] = shadow[key] * rate + value.detach() * (1 - rate)
                else:
                    shadow[key] = value.detach().clone()
        self.updates += 1

    def state_dict(self) -> dict:
        return {**{name: dict(self.shadow[name]) for name in AVERAGED}, "updates": self.updates}

    def set_state_dict(self, state: dict) -> None:
        for name in AVERAGED:
            own = self.shadow[name]
            own.update({k: _tensor(v) for k, v in state.get(name, {}).items() if k in own})
        self.updates = int(state.get("updates", 0))


def _tensor(value) -> paddle.Tensor:
    """A checkpoint value (a paddle Tensor or a numpy array) as a tensor of its own."""
    return value.clone() if isinstance(value, paddle.Tensor) else paddle.to_tensor(value)
