"""Distilling the mobile student from the full model, in PaddleGAN's three stages.

The config is PaddleGAN's ``firstorder_vox_mobile_256.yaml``: ``model.generator``
describes the student, ``model.generator_ori`` the teacher, ``model.mode`` the stage:

* ``kp_detector``: train the student keypoint detector through the teacher's
  generator, which is loaded and fixed;
* ``generator``: train the student generator on the teacher's keypoint
  detector, loaded and fixed;
* ``both``: start both students from ``kp_weight_path`` (the ``kp_detector``
  of the first stage's checkpoint) and ``gen_weight_path`` (the ``generator``
  of the second's) and train them together. PaddleGAN's ``set_state_dict``
  only warns when these do not fit and keeps random weights; here a missing
  or misfitting file is an error.

The fixed teacher half is what distils: the student must produce what the
teacher's other half understands, under the usual FOM losses. The teacher
weights come from ``model.teacher_weight_path`` (default PaddleGAN's
``vox-cpk.pdparams``, downloaded). The fixed half stays in eval mode so its
BatchNorm statistics do not drift. ``loss_weights.kp_distillation`` adds an
L1 to the teacher's keypoints in the ``kp_detector`` stage. ``model.prune`` (``ratio``, ``criterion``)
prunes the students before training (see :mod:`ppfom.compression.prune`): set
it with ``mode: both`` to fine-tune a pruned student.
"""
from __future__ import annotations

import os

import paddle
from paddle import nn

from ..checkpoint import _BASE_URL, download, load_state, read_checkpoint
from ..config import build_discriminator, build_generator, build_kp_detector
from ..errors import PpfomError
from ..training import distributed as dist
from ..training.model import DiscriminatorFull, GeneratorFull
from ..training.perceptual import build_perceptual
from ..training.trainer import Trainer
from ..weights import PRUNED, fit_pruned_layout, is_pruned, load_into
from .prune import prune, pruned_entry

MODES = ("kp_detector", "generator", "both")
TEACHER_URL = _BASE_URL + "vox-cpk.pdparams"


def _none(value):
    return None if value in (None, "None", "none", "null", "") else value


def stage(cfg: dict) -> str:
    """The config's ``model.mode``, checked, with the teacher section it needs."""
    model = cfg["model"]
    mode = model.get("mode")
    if mode not in MODES:
        raise PpfomError(f"model.mode is '{mode}': set it to one of {', '.join(MODES)}")
    if mode != "both" and "generator_ori" not in model:
        raise PpfomError(f"model.mode {mode} needs the teacher: add a model.generator_ori section "
                         "(see configs/firstorder_vox_mobile_256.yaml)")
    return mode


def _weights(path, key: str, what: str) -> dict:
    """The checkpoint given by config key ``key`` for the ``what`` stage; one-line errors."""
    path = _none(path)
    if path is None:
        raise PpfomError(f"model.mode both needs model.{key}: give the checkpoint of the {what} stage")
    if not os.path.isfile(path):
        raise PpfomError(f"model.{key} '{path}' does not exist: give the checkpoint of the {what} stage")
    state = read_checkpoint(path)
    if what not in state:
        raise PpfomError(f"model.{key} '{path}' has no {what}: give the checkpoint of the {what} stage")
    return state


def teacher_weights(cfg: dict) -> dict:
    """The teacher checkpoint: ``model.teacher_weight_path``, else PaddleGAN's vox-cpk (downloaded)."""
    path = _none(cfg["model"].get("teacher_weight_path"))
    if path is None:
        path = download(TEACHER_URL, hint="download it yourself and set model.teacher_weight_path")
    elif not os.path.isfile(path):
        raise PpfomError(f"model.teacher_weight_path '{path}' does not exist: give the full model's checkpoint")
    return read_checkpoint(path)


def freeze(net: nn.Layer) -> nn.Layer:
    for p in net.parameters():
        p.stop_gradient = True
    net.eval()
    return net


class DistillTrainer(Trainer):
    """:class:`Trainer` whose kp detector / generator are the stage's student and fixed teacher half."""

    def __init__(self, cfg: dict, output_dir: str | None = None, resume: str | None = None, **kwargs):
        self.mode = stage(cfg)
        self._resume_state = read_checkpoint(resume) if resume else None
        super().__init__(cfg, output_dir=output_dir, resume=resume, **kwargs)

    def _build_networks(self) -> None:
        cfg = self.cfg
        kp_key = "generator_ori" if self.mode == "generator" else "generator"
        gen_key = "generator_ori" if self.mode == "kp_detector" else "generator"
        nets = {"kp_detector": build_kp_detector(cfg, generator_key=kp_key),
                "generator": build_generator(cfg, inference=False, generator_key=gen_key),
                "discriminator": build_discriminator(cfg)}
        self.students = [n for n in ("kp_detector", "generator") if self.mode in (n, "both")]
        self._load_start(nets)
        self.fixed = [n for n in ("kp_detector", "generator") if n not in self.students]
        for name in self.fixed:
            freeze(nets[name])
        self.nets = {k: dist.use_sync_batchnorm(v) for k, v in nets.items()}
        perceptual, self.perceptual_name = build_perceptual(self.train_params)
        parts = (self.nets["kp_detector"], self.nets["generator"], self.nets["discriminator"], perceptual,
                 self.train_params)
        weight = float(self.train_params["loss_weights"].get("kp_distillation", 0))
        if weight and self.mode == "kp_detector":
            self.gen_full = KeypointDistilled(*parts, teacher_kp=self._teacher_kp_detector(), weight=weight)
        else:
            self.gen_full = GeneratorFull(*parts)
        self.disc_full = DiscriminatorFull(self.nets["discriminator"], self.train_params)
        self.use_gan = float(self.train_params["loss_weights"].get("generator_gan", 0)) != 0

    def _load_start(self, nets: dict) -> None:
        """Teacher half, student starting weights, pruning: before the optimizers see the parameters."""
        model = self.cfg["model"]
        if self._resume_state is not None:  # the resumed checkpoint has every weight, pruned or not
            if is_pruned(self._resume_state):
                self.pruned = self._resume_state[PRUNED]
                for name in ("kp_detector", "generator"):
                    if name in self._resume_state:
                        fit_pruned_layout(nets[name], self._resume_state[name])
            self._resume_state = None
            return
        if self.mode == "both":
            for name, key in (("kp_detector", "kp_weight_path"), ("generator", "gen_weight_path")):
                checkpoint = _weights(model.get(key), key, name)
                load_into(nets[name], checkpoint, name, model[key], hint="check model.generator / model.prune against it")
                self.pruned = self.pruned or checkpoint.get(PRUNED)
        else:
            teacher = teacher_weights(self.cfg)
            fixed = "generator" if self.mode == "kp_detector" else "kp_detector"
            load_state(nets[fixed], teacher[fixed], f"teacher {fixed}", source="the teacher checkpoint",
                       hint="check model.generator_ori against model.teacher_weight_path")
        spec = model.get("prune")
        if spec:
            ratio, criterion = float(spec.get("ratio", 0.3)), spec.get("criterion", "l1_norm")
            prune([nets[name] for name in self.students], ratio, criterion)
            self.pruned = pruned_entry(ratio, criterion)

    def _teacher_kp_detector(self) -> nn.Layer:
        net = build_kp_detector(self.cfg, generator_key="generator_ori")
        load_state(net, teacher_weights(self.cfg)["kp_detector"], "teacher kp_detector",
                   source="the teacher checkpoint", hint="check model.generator_ori against model.teacher_weight_path")
        return freeze(net)

    def train_mode(self) -> None:
        for name, net in self.nets.items():
            if name in self.fixed:
                net.eval()
            else:
                net.train()
        self._freeze_batchnorm_statistics()


class KeypointDistilled(GeneratorFull):
    """FOM's generator objective plus ``kp_distillation``: L1 from the teacher's keypoints.

    PaddleGAN codes this term (``kp_distillation_loss``) but no mode of its
    reaches it; here ``loss_weights.kp_distillation`` > 0 adds it in the
    ``kp_detector`` stage, where it gives the student a direct target.
    """

    def __init__(self, *parts, teacher_kp: nn.Layer, weight: float):
        super().__init__(*parts)
        self.teacher_kp = teacher_kp
        self.kp_weight = weight

    def forward(self, source: paddle.Tensor, driving: paddle.Tensor, rng) -> tuple[dict, dict]:
        out, generated = super().forward(source, driving, rng)
        with paddle.no_grad():
            targets = [self.teacher_kp(image)["value"] for image in (source, driving)]
        students = [generated["kp_source"]["value"], generated["kp_driving"]["value"]]
        out["kp_distillation"] = self.kp_weight * sum(
            paddle.abs(s - t).mean() for s, t in zip(students, targets))
        return out, generated
