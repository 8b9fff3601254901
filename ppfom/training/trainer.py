"""The training loop: build from a config, step, log, checkpoint, resume.

Checkpoints have PaddleGAN's layout (``generator``, ``kp_detector``,
``discriminator``, ``optimizer_KP`` / ``optimizer_Gen`` / ``optimizer_Dis``,
``epoch``) plus ``iter`` (iterations done), and are written atomically. A
resumed run restores weights, BatchNorm statistics, Adam moments and learning
rate schedules, and continues with the very batches and random transforms
an uninterrupted run would have used: every random draw is keyed by
(seed, iteration), not by a global generator's state.
"""
from __future__ import annotations

import copy
import logging
import os
from dataclasses import dataclass

import numpy as np
import paddle
from paddle.optimizer.lr import MultiStepDecay

from ..checkpoint import load_state, read_checkpoint, save_checkpoint
from ..config import build_discriminator, build_generator, build_kp_detector
from ..errors import PpfomError
from ..weights import PRUNED
from . import distributed as dist
from .averaging import AVERAGED, WeightAverage
from .dataset import EpochSampler, FramesDataset
from .model import DiscriminatorFull, GeneratorFull
from .perceptual import build_perceptual
from .trunk import scale_trunk_lr

log = logging.getLogger("ppfom.training")

# Adam as in the FOM paper and code; PaddleGAN's default beta1 of 0.9 trains noticeably worse.
BETAS = (0.5, 0.999)
# layers whose initial weights make them a no-op (zeros): a checkpoint from before them can be resumed
NEW_LAYERS = ("stretch_in.",)
NETWORKS = {"kp_detector": "optimizer_KP", "generator": "optimizer_Gen", "discriminator": "optimizer_Dis"}


@dataclass
class Schedule:
    """How long to train and when to log and save, from the config's PaddleGAN keys."""

    iters_per_epoch: int
    total_iters: int
    log_interval: int
    save_interval: int


def _schedule(cfg: dict, iters_per_epoch: int) -> Schedule:
    """``total_iters`` wins over ``epochs``; ``snapshot_config.interval`` counts epochs when epochs are used."""
    if cfg.get("total_iters"):
        total, unit = int(cfg["total_iters"]), 1
    else:
        total, unit = int(cfg.get("epochs", 1)) * iters_per_epoch, iters_per_epoch
    save = int(cfg.get("snapshot_config", {}).get("interval", 1)) * unit
    log_every = int(cfg.get("log_config", {}).get("interval", 10))
    return Schedule(iters_per_epoch, total, max(1, log_every), max(1, save))


class Trainer:
    """Trains the networks a config describes; ``run()`` returns the last checkpoint's path."""

    pruned: dict | None = None  # how the networks were pruned, saved with them (see ppfom.weights)

    def __init__(self, cfg: dict, output_dir: str | None = None, resume: str | None = None,
                 seed: int | None = None, num_workers: int | None = None, progress: bool = True):
        self.cfg = copy.deepcopy(cfg)
        self.seed = int(seed if seed is not None else self.cfg.get("seed", 0))
        self.output_dir = output_dir or self.cfg.get("output_dir", "output_dir")
        self.rank, self.world = dist.rank(), dist.world_size()
        self.progress = progress and self.rank == 0
        paddle.seed(self.seed)
        self.train_params = self.cfg["model"]["train_params"]
        self._build_networks()
        self._build_data(num_workers)
        self._build_optimizers()
        decay = float(self.train_params.get("weight_averaging") or 0)
        self.average = WeightAverage(self.nets, decay) if decay else None
        self.iter = 0
        self.history: list[dict[str, float]] = []  # loss terms of every step of this process's run
        if resume:
            self.load(resume)
        dist.broadcast_parameters(list(self.nets.values()))

    # ------------------------------------------------------------ building

    def _build_networks(self) -> None:
        self.nets = {"kp_detector": build_kp_detector(self.cfg),
                     "generator": build_generator(self.cfg, inference=False),
                     "discriminator": build_discriminator(self.cfg)}
        self.nets = {k: dist.use_sync_batchnorm(v) for k, v in self.nets.items()}
        perceptual, self.perceptual_name = build_perceptual(self.train_params)
        self.gen_full = GeneratorFull(self.nets["kp_detector"], self.nets["generator"],
                                      self.nets["discriminator"], perceptual, self.train_params)
        self.disc_full = DiscriminatorFull(self.nets["discriminator"], self.train_params)
        self.use_gan = float(self.train_params["loss_weights"].get("generator_gan", 0)) != 0

    def _build_data(self, num_workers: int | None) -> None:
        spec = dict(self.cfg["dataset"]["train"])
        regions = any(float(self.train_params.get(k, 0)) > 0  # eye and mouth boxes (regions.py)
                      for k in ("region_weight", "region_dark_weight"))
        eyes = float(self.train_params.get("loss_weights", {}).get("eye_jacobian", 0)) > 0
        self.dataset = FramesDataset(seed=self.seed, face_regions=regions, eye_frames=eyes, **spec)
        self.batch_size = int(spec.get("batch_size", 1))
        self.num_workers = int(spec.get("num_workers", 0) if num_workers is None else num_workers)
        probe = EpochSampler(len(self.dataset), self.batch_size, self.seed, self.rank, self.world)
        self.schedule = _schedule(self.cfg, probe.iters_per_epoch)

    def _build_optimizers(self) -> None:
        lr_cfg = self.cfg.get("lr_scheduler", {})
        unit = self.schedule.iters_per_epoch if lr_cfg.get("milestones_in_epochs") else 1
        milestones = [int(m) * unit for m in lr_cfg.get("epoch_milestones", [])] or [10 ** 12]
        lr_key = {"kp_detector": "lr_kp_detector", "generator": "lr_generator", "discriminator": "lr_discriminator"}
        self.schedulers, self.optimizers = {}, {}
        for net, opt in NETWORKS.items():
            sched = MultiStepDecay(float(lr_cfg.get(lr_key[net], 2e-4)), milestones=milestones,
                                   gamma=float(lr_cfg.get("gamma", 0.1)))
            self.schedulers[net] = sched
            if net == "generator" and "trunk_lr_scale" in self.train_params:
                parts = (self.train_params.get(k) for k in ("skip_mask_lr_scale", "decoder_lr_scale"))
                scale_trunk_lr(self.nets[net], float(self.train_params["trunk_lr_scale"]),
                               *(None if v is None else float(v) for v in parts))
            self.optimizers[opt] = paddle.optimizer.Adam(sched, beta1=BETAS[0], beta2=BETAS[1],
                                                         parameters=self.nets[net].parameters())

    def loader(self):
        """Batches of ``{'source', 'driving'}`` (and ``'regions'``, ``'eye_motion'``) from the current
        iteration on, endlessly."""
        sampler = EpochSampler(len(self.dataset), self.batch_size, self.seed, self.rank, self.world,
                               start_iter=self.iter)
        keys = ("source", "driving") + ("regions",) * self.dataset.face_regions \
            + ("eye_motion",) * self.dataset.eye_frames
        if self.num_workers == 0:
            for batch in sampler:
                items = [self.dataset[k] for k in batch]
                yield {k: paddle.to_tensor(np.stack([it[k] for it in items])) for k in keys}
            return
        loader = paddle.io.DataLoader(_KeyedDataset(self.dataset, keys), batch_sampler=_Batches(sampler),
                                      num_workers=self.num_workers, return_list=True)
        for arrays in loader:
            yield dict(zip(keys, arrays))

    # ------------------------------------------------------------ training

    def train_mode(self) -> None:
        for net in self.nets.values():
            net.train()
        self._freeze_batchnorm_statistics()

    def _freeze_batchnorm_statistics(self) -> None:
        """``train_params.batchnorm_statistics: frozen`` trains with the running statistics, as inference runs.

        With small batches of very different images (the synthetic faces' plain
        backgrounds of any colour) batch statistics swing from step to step and
        carry away each image's absolute colour; fine-tuning with the running
        statistics, as detection models are, avoids both.
        """
        mode = self.train_params.get("batchnorm_statistics", "batch")
        if mode not in ("batch", "frozen"):
            raise PpfomError(f"model.train_params.batchnorm_statistics is '{mode}': use batch or frozen")
        if mode == "frozen":
            for name in ("kp_detector", "generator"):
                for layer in self.nets[name].sublayers():
                    if isinstance(layer, paddle.nn.layer.norm._BatchNormBase):
                        layer.eval()

    def step(self, batch: dict[str, paddle.Tensor]) -> dict[str, float]:
        """One generator (+ discriminator) update on a batch; returns the loss terms as floats."""
        self.train_mode()
        rng = np.random.default_rng((self.seed, self.iter, self.rank))
        disc_params = self.nets["discriminator"].parameters()
        for p in disc_params:
            p.stop_gradient = True
        driving = self._with_same_frame_pairs(batch["source"], batch["driving"])
        # Same-frame pairs keep their driving frame's regions: their error is small everywhere anyway.
        # (passed only when asked for: distillation's generator step takes no regions)
        extra = {"regions": batch["regions"]} if "regions" in batch else {}
        if "eye_motion" in batch:  # a frame driving itself: the eyes do not move
            still = paddle.eye(2, dtype=batch["eye_motion"].dtype).expand(batch["eye_motion"].shape)
            extra["eye_motion"] = self._with_same_frame_pairs(batch["eye_motion"], batch["eye_motion"], still)
        terms, generated = self.gen_full(batch["source"], driving, rng, **extra)
        loss = paddle.add_n([v.reshape([1]) for v in terms.values()])
        loss.backward()
        for net in ("kp_detector", "generator"):
            self._update(net)
        for p in disc_params:
            p.stop_gradient = False
        values = {k: float(v.reshape([-1])[0]) for k, v in terms.items()}
        if self.use_gan:
            disc_terms = self.disc_full(driving, generated)
            disc_terms["disc_gan"].backward()
            self._update("discriminator")
            values["disc_gan"] = float(disc_terms["disc_gan"].reshape([-1])[0])
        for sched in self.schedulers.values():
            sched.step()
        if self.average:
            self.average.update()
        self.iter += 1
        values["loss"] = sum(v for k, v in values.items() if k != "disc_gan")
        return dist.mean_over_processes(values)

    def _with_same_frame_pairs(self, source: paddle.Tensor, driving: paddle.Tensor,
                               itself: paddle.Tensor | None = None) -> paddle.Tensor:
        """``train_params.same_frame_fraction``: that share of each batch is driven by its own source.

        Not in FOM. With identical keypoints the warp is exactly the identity, so these pairs teach
        the generator to reproduce what it is given (and to trust it: occlusion near 1) long
        before the keypoints are good enough for other pairs to teach that; a small model
        otherwise hedges with a blur even on a clip's first frame. ``itself``: what those pairs
        take instead of ``source`` (a per-pair target rather than a frame).
        """
        share = float(self.train_params.get("same_frame_fraction", 0))
        if not 0 <= share <= 1:
            raise PpfomError(f"model.train_params.same_frame_fraction is {share}: use a share from 0 to 1")
        count = round(share * source.shape[0])
        first = source if itself is None else itself
        if count == 0:
            return driving
        return paddle.concat([first[:count], driving[count:]]) if count < source.shape[0] else first

    def _update(self, net: str) -> None:
        params = self.nets[net].parameters()
        dist.average_gradients(params)
        opt = self.optimizers[NETWORKS[net]]
        opt.step()
        opt.clear_grad()

    def run(self, max_iters: int | None = None) -> str | None:
        """Train to the configured length (or ``max_iters`` more steps); returns the last checkpoint."""
        end = self.schedule.total_iters if max_iters is None else min(self.schedule.total_iters,
                                                                       self.iter + max_iters)
        if self.iter >= end:
            log.info("nothing to do: already at iteration %d of %d", self.iter, end)
            return None
        from .logs import ProgressLog

        self.initialise_trunk()
        self.autoencoder_warmup()
        if self.average and self.average.updates == 0:
            self.average.reset()  # average from the weights training starts with, after any warm start
        last = None
        with ProgressLog(self.output_dir, self.iter, end, enabled=self.rank == 0,
                         bar=self.progress) as progress:
            log.info("training %d -> %d iterations (%d per epoch, batch %d x %d processes, perceptual: %s)",
                     self.iter, end, self.schedule.iters_per_epoch, self.batch_size, self.world,
                     self.perceptual_name)
            for batch in self.loader():
                values = self.step(batch)
                self.history.append(values)
                progress.update(self.iter, values, self.lr, log_now=self.iter % self.schedule.log_interval == 0)
                if self.iter % self.schedule.save_interval == 0 or self.iter == end:
                    last = self.save()
                if self.iter >= end:
                    break
        return last

    def initialise_trunk(self) -> bool:
        """``train_params.trunk_init: identity`` at iteration 0, after any warm start (see :mod:`.trunk`)."""
        mode = self.train_params.get("trunk_init")
        if not mode or self.iter != 0:
            return False
        if mode != "identity":
            raise PpfomError(f"model.train_params.trunk_init is '{mode}': use identity or leave it out")
        if self.train_params.get("batchnorm_statistics", "batch") != "frozen":
            raise PpfomError("model.train_params.trunk_init: identity needs batchnorm_statistics: frozen "
                             "(batch statistics would rescale the copies it makes)")
        from .trunk import identity_init

        identity_init(self.nets["generator"])
        dist.broadcast_parameters([self.nets["generator"]])
        log.info("generator trunk initialised as a near-identity")
        return True

    def autoencoder_warmup(self) -> list[float]:
        """``train_params.autoencoder_warmup: N``: before iteration 0, N steps of the generator alone
        reproducing frames (``lr_scheduler.lr_autoencoder``, default the generator's lr); see
        :mod:`ppfom.training.warmup`. Runs only at iteration 0, so a resumed run skips it."""
        iters = int(self.train_params.get("autoencoder_warmup", 0))
        if iters <= 0 or self.iter != 0:
            return []
        from .warmup import autoencode

        lr_cfg = self.cfg.get("lr_scheduler", {})
        lr = float(lr_cfg.get("lr_autoencoder", lr_cfg.get("lr_generator", 2e-4)))
        log.info("autoencoding warm-up: %d steps, lr %g", iters, lr)
        self.train_mode()
        return autoencode(self.nets["generator"], self.loader(), iters, lr, BETAS,
                          log_every=self.schedule.log_interval)

    @paddle.no_grad()
    def recalibrate_batchnorm(self, batches: int = 50) -> None:
        """Set BatchNorm running statistics to their exact average over ``batches`` training batches.

        With the small batches a CPU affords, the running averages (momentum 0.9) follow the last
        few batches, which shifts the colours of evaluation-mode outputs; an exact average over
        many batches removes that noise without changing any weight.
        """
        layers = [layer for name in ("kp_detector", "generator") for layer in self.nets[name].sublayers()
                  if isinstance(layer, paddle.nn.layer.norm._BatchNormBase)]
        self.train_mode()
        loader = self.loader()
        for k in range(batches):
            for layer in layers:
                layer._momentum = k / (k + 1)  # running = mean of the batch statistics seen so far
            batch = next(loader)
            kp_driving = self.nets["kp_detector"](batch["driving"])
            kp_source = self.nets["kp_detector"](batch["source"])
            self.nets["generator"](batch["source"], kp_driving=kp_driving, kp_source=kp_source)
        for layer in layers:
            layer._momentum = 0.9
        log.info("BatchNorm statistics recomputed over %d batches of %d", batches, self.batch_size)

    @property
    def lr(self) -> float:
        return float(self.schedulers["generator"].get_lr())

    # ------------------------------------------------------------ checkpoints

    def state(self) -> dict:
        state = {name: net.state_dict() for name, net in self.nets.items()}
        state.update({name: opt.state_dict() for name, opt in self.optimizers.items()})
        state["epoch"] = self.iter // self.schedule.iters_per_epoch
        state["iter"] = self.iter
        if self.pruned:
            state[PRUNED] = self.pruned
        if self.average:
            state["ema"] = self.average.state_dict()
        # Adam's moments are keyed by Paddle's generated parameter names, which depend on what the
        # process built before; the names in order let a resume map them onto its own parameters.
        state["param_names"] = {opt: [p.name for p in self.nets[net].parameters()]
                                for net, opt in NETWORKS.items()}
        return state

    def checkpoint_path(self, it: int) -> str:
        return os.path.join(self.output_dir, f"iter_{it}_checkpoint.pdparams")

    def save(self) -> str | None:
        """Write this iteration's checkpoint (rank 0 only) and drop the previous one."""
        if self.rank != 0:
            return None
        path = self.checkpoint_path(self.iter)
        save_checkpoint(self.state(), path)
        for name in os.listdir(self.output_dir):
            if name.endswith("_checkpoint.pdparams") and os.path.join(self.output_dir, name) != path:
                os.remove(os.path.join(self.output_dir, name))
        log.info("saved %s", path)
        return path

    def load(self, path: str) -> None:
        """Resume from a checkpoint of this trainer or PaddleGAN's (then only 'epoch' says where)."""
        state = read_checkpoint(path)
        for name, net in self.nets.items():
            if name in state:
                load_state(net, _with_new_layers(net, state[name], name), name, source=path,
                           hint="check --config against the checkpoint")
            else:
                log.warning("checkpoint '%s' has no %s: it starts from scratch", path, name)
        saved_names = state.get("param_names", {})
        for net, name in NETWORKS.items():
            if name in state:
                own = [p.name for p in self.nets[net].parameters()]
                opt_state = _rename_accumulators(state[name], saved_names.get(name, own), own)
                self.optimizers[name].set_state_dict(opt_state)
        if self.average and "ema" in state:
            self.average.set_state_dict(state["ema"])
        elif self.average:
            self.average.reset()  # a checkpoint trained without averages: start them from its weights
        if "iter" in state:
            self.iter = int(state["iter"])
        elif "epoch" in state:
            self.iter = int(state["epoch"]) * self.schedule.iters_per_epoch
        for name, sched in self.schedulers.items():
            if NETWORKS[name] not in state:  # the optimizer state restores its schedule; else recompute
                sched.last_epoch = self.iter
                sched.last_lr = sched.get_lr()
        log.info("resumed from %s at iteration %d", path, self.iter)

    def warm_start(self, path: str) -> None:
        """Copy from ``path`` every tensor whose name and shape match; the rest keeps its initial value.

        A new architecture that shares parts with a trained one (the keypoint detector, the
        motion network, the generator's first layers) then need not learn those from scratch.
        A checkpoint with weight averages gives its averages (what it would bundle) for the networks
        they cover.
        """
        state = dict(read_checkpoint(path))
        averages = state.get("ema") or {}
        for name in AVERAGED:
            if isinstance(averages.get(name), dict):
                state[name] = averages[name]
                log.info("warm start: %s from the checkpoint's weight averages", name)
        copied = total = 0
        for name, net in self.nets.items():
            own = net.state_dict()
            total += len(own)
            fits = {k: v for k, v in state.get(name, {}).items()
                    if k in own and tuple(np.shape(v)) == tuple(own[k].shape)}
            if fits:
                net.set_state_dict({**{k: v.numpy() for k, v in own.items()}, **fits})
            copied += len(fits)
        dist.broadcast_parameters(list(self.nets.values()))
        log.info("warm start from %s: %d of %d tensors copied", path, copied, total)


def _with_new_layers(net: paddle.nn.Layer, saved: dict, name: str) -> dict:
    """``saved`` plus, for layers that start as a no-op (``NEW_LAYERS``, e.g. ``stretch_in``) and that
    the checkpoint predates, their initial weights: the run resumes as the model it extends."""
    new = {k: v.numpy() for k, v in net.state_dict().items() if k.startswith(NEW_LAYERS) and k not in saved}
    if new:
        log.info("%s: %s not in the checkpoint, resumed at their start (a no-op)", name, ", ".join(sorted(new)))
    return {**saved, **new}


def _rename_accumulators(state: dict, old: list[str], new: list[str]) -> dict:
    """Optimizer state with keys ``<old param name>_<accumulator>`` renamed to the new names, by position."""
    if old == new:
        return dict(state)
    mapping = dict(zip(old, new))
    by_length = sorted(old, key=len, reverse=True)
    out = {}
    for key, value in state.items():
        match = next((n for n in by_length if key.startswith(n + "_")), None)
        out[mapping[match] + key[len(match):] if match else key] = value
    return out


class _KeyedDataset(paddle.io.Dataset):
    """Map-style view for paddle's DataLoader; keys come from :class:`EpochSampler`."""

    def __init__(self, dataset: FramesDataset, keys: tuple[str, ...]):
        self.dataset, self.keys = dataset, keys

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: int):
        item = self.dataset[key]
        return tuple(item[k] for k in self.keys)


class _Batches(paddle.io.BatchSampler):
    """Wraps :class:`EpochSampler` in the type paddle's DataLoader insists on."""

    def __init__(self, sampler: EpochSampler):
        self.sampler = sampler
        self.batch_size = sampler.batch_size
        self.drop_last = True

    def __iter__(self):
        return iter(self.sampler)

    def __len__(self) -> int:
        return len(self.sampler)


def check_config(cfg: dict) -> None:
    """The keys training needs, checked before any work so a typo fails in a second."""
    for keys in (("dataset", "train", "dataroot"), ("model", "train_params", "loss_weights"),
                 ("model", "train_params", "scales"), ("model", "discriminator")):
        node = cfg
        for key in keys:
            if not isinstance(node, dict) or key not in node:
                raise PpfomError(f"config has no {'.'.join(keys)}: start from configs/firstorder_fashion.yaml")
            node = node[key]


def export_weights(checkpoint: str, target: str, averaged: bool = True) -> bool:
    """Keep only what animation needs (``generator``, ``kp_detector``): a third of a training checkpoint.

    Takes the weight averages when the checkpoint has them (``train_params.weight_averaging``) unless
    ``averaged`` is False; returns whether it did.
    """
    state = read_checkpoint(checkpoint)
    use_average = averaged and "ema" in state
    source = state["ema"] if use_average else state
    save_checkpoint({k: source[k] for k in AVERAGED}, target)
    return use_average
