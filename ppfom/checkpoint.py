"""The one place that knows PaddleGAN's checkpoint format.

A checkpoint is a ``paddle.save``'d dict ``{'generator': state_dict,
'kp_detector': state_dict, ...}``. PaddleGAN publishes three of them; this
module finds, downloads, reads, checks and writes such files so that every
other module can assume a state dict that fits its network exactly.
"""

from __future__ import annotations

import contextlib
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np
import paddle

from ppfom.atomic import publish, temporary_beside
from ppfom.errors import PpfomError

_BASE_URL = "https://paddlegan.bj.bcebos.com/applications/first_order_model/"

PUBLISHED_WEIGHTS: dict[str, str] = {
    "vox256": _BASE_URL + "vox-cpk.pdparams",
    "vox512": _BASE_URL + "vox-cpk-512.pdparams",
    "vox_mobile256": _BASE_URL + "vox-mobile.pdparams",
}

REQUIRED_NETWORKS = ("generator", "kp_detector")

# How many names an error message lists before it says "and N more": enough to
# recognise the pattern, short enough to stay one readable line.
_LISTED = 4

_CHUNK = 1 << 20


# ---------------------------------------------------------------- reading


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Load a checkpoint, turning every way a file can be wrong into one line.

    ``paddle.load`` reports bad files with EOFError, ValueError, pickle errors
    or C++ exceptions depending on how they are bad; the user only needs to
    know that this path is not a checkpoint. Values are returned as loaded
    (paddle Tensors or numpy arrays).
    """
    path = os.fspath(path)
    state = _load(path, f"checkpoint '{path}' does not exist: check --weight_path",
                  lambda reason: f"checkpoint '{path}' is not a PaddlePaddle checkpoint ({reason}): pass a "
                  ".pdparams file from PaddleGAN or ppfom (convert PyTorch .pth.tar files with "
                  "tools/convert_torch_checkpoint.py)")
    missing = [k for k in REQUIRED_NETWORKS if not isinstance(_get(state, k), Mapping)]
    if missing:
        raise PpfomError(
            f"checkpoint '{path}' has no {' or '.join(repr(k) for k in missing)} "
            "state dict: pass a First Order Motion checkpoint "
            "(a .pdparams file holding 'generator' and 'kp_detector')"
        )
    return state


def read_state_dict(path: str | os.PathLike, what: str, option: str) -> Mapping[str, object]:
    """Load a single network's state dict (``paddle.save`` of ``layer.state_dict()``), such as
    PaddleGAN's face detector and enhancer weights; ``what`` names the network, ``option`` the flag."""
    path = os.fspath(path)
    state = _load(path, f"{what} weights '{path}' do not exist: check {option}",
                  lambda reason: f"{what} weights '{path}' are not a PaddlePaddle state dict ({reason}): "
                  f"check {option}")
    if not isinstance(state, Mapping):
        raise PpfomError(f"{what} weights '{path}' hold a {type(state).__name__}, not a state dict: "
                         f"check {option}")
    return state


def _load(path: str, missing: str, unreadable: Callable[[str], str]) -> object:
    """``paddle.load`` with one-line errors; ``unreadable(reason)`` words the second."""
    if not os.path.isfile(path):
        raise PpfomError(missing)
    try:
        return paddle.load(path)
    except Exception as exc:  # noqa: BLE001 - any failure means "not a checkpoint"
        raise PpfomError(unreadable(_reason(exc))) from None


def _get(state: object, key: str) -> object:
    return state.get(key) if isinstance(state, Mapping) else None


def _reason(exc: BaseException) -> str:
    """First line of an exception, for messages that must stay on one line."""
    text = str(exc).strip().splitlines()
    first = text[0].strip() if text else ""
    name = type(exc).__name__
    return f"{name}: {first}" if first else name


# ---------------------------------------------------------------- fitting


def shape_of(value: object) -> tuple[int, ...]:
    """Shape of a Tensor or array as a tuple, so shapes compare across types."""
    shape = value.shape if hasattr(value, "shape") else np.shape(value)
    return tuple(int(d) for d in shape)


def describe_misfit(got: Mapping[str, Sequence[int]], expected: Mapping[str, Sequence[int]]) -> str | None:
    """Say in one clause how a set of named shapes differs from the expected one.

    Returns None when the names and shapes agree. Shared by the loader and the
    PyTorch converter so that both report a misfit the same way.
    """
    missing = [k for k in expected if k not in got]
    unexpected = [k for k in got if k not in expected]
    mismatched = [
        f"{k} {_fmt(got[k])} vs {_fmt(expected[k])}"
        for k in expected
        if k in got and tuple(got[k]) != tuple(expected[k])
    ]
    parts = [
        _listing(label, names)
        for label, names in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("shape mismatch", mismatched),
        )
        if names
    ]
    return "; ".join(parts) or None


def _fmt(shape: Sequence[int]) -> str:
    return "(" + ",".join(str(d) for d in shape) + ")"


def _listing(label: str, names: Sequence[str]) -> str:
    shown = ", ".join(names[:_LISTED])
    more = len(names) - _LISTED
    return f"{label} {shown}" + (f" and {more} more" if more > 0 else "")


def load_state(
    layer: paddle.nn.Layer,
    state: Mapping[str, object],
    what: str,
    source: str | os.PathLike | None = None,
    hint: str = "check --config / --mobile_net / --image_size",
) -> None:
    """Load ``state`` into ``layer`` or explain, in one line, why it does not fit.

    ``set_state_dict`` only warns about missing or misshapen entries and leaves
    the random initial weights in place, which yields plausible-looking
    garbage; so everything is checked before loading and verified after.
    ``what`` names the network (``'generator'``), ``source`` the file it came
    from, ``hint`` the flags a user should look at.
    """
    where = f"checkpoint '{os.fspath(source)}'" if source is not None else "the weights"
    own = layer.state_dict()
    misfit = describe_misfit(
        {k: shape_of(v) for k, v in state.items()},
        {k: shape_of(v) for k, v in own.items()},
    )
    if misfit:
        raise PpfomError(f"{where} does not fit the {what}: {misfit}: {hint}")
    arrays = {k: _as_array(state[k], _numpy_dtype(own[k])) for k in own}
    layer.set_state_dict(arrays)
    loaded = layer.state_dict()
    stale = [k for k, v in arrays.items() if not _same(loaded[k], v)]
    if stale:
        raise PpfomError(f"{where} did not load into the {what}: {_listing('unchanged', stale)}: {hint}")


def _numpy_dtype(tensor: paddle.Tensor) -> np.dtype | None:
    """numpy dtype of a paddle tensor; None for types numpy lacks (bfloat16)."""
    try:
        return np.dtype(str(tensor.dtype).replace("paddle.", ""))
    except TypeError:
        return None


def _as_array(value: object, dtype: np.dtype | None) -> np.ndarray:
    """Bring a checkpoint value to the layer's dtype (numpy files are often float64)."""
    array = value.numpy() if isinstance(value, paddle.Tensor) else np.asarray(value)
    if dtype is not None and array.dtype != dtype:
        array = array.astype(dtype)
    return array


def _same(tensor: paddle.Tensor, array: np.ndarray) -> bool:
    got = tensor.numpy()
    return got.shape == array.shape and np.array_equal(
        got, array, equal_nan=np.issubdtype(array.dtype, np.inexact)
    )


# ---------------------------------------------------------------- writing


def save_checkpoint(state: Mapping[str, object], path: str | os.PathLike) -> None:
    """``paddle.save`` that never leaves a half-written file under ``path``.

    A training run killed while saving would otherwise destroy its only
    checkpoint; writing beside it and renaming makes the switch atomic.
    """
    path = os.fspath(path)
    with temporary_beside(path) as tmp:
        paddle.save(dict(state), tmp)
        publish(tmp, path)


# ---------------------------------------------------------------- downloading


def default_cache_dir() -> str:
    """``$PPFOM_HOME`` if set, so that shared machines can point at one copy."""
    return os.environ.get("PPFOM_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "ppfom")


def download(url: str, cache_dir: str | None = None, timeout: float = 30.0,
             hint: str = "download it yourself and pass --weight_path") -> str:
    """Return the local path of ``url``'s file, downloading it once.

    The file only appears under its final name once it is complete, so a
    cached file is always trustworthy and an interrupted download leaves
    nothing behind. ``timeout`` bounds the connection and every read.
    ``hint`` ends the error message: how the user can supply the file instead.
    """
    name = os.path.basename(urllib.parse.unquote(urllib.parse.urlparse(url).path)) or "download"
    folder = cache_dir or default_cache_dir()
    target = os.path.join(folder, name)
    if os.path.isfile(target):
        return target
    try:
        with temporary_beside(target) as tmp:
            _fetch(url, tmp, timeout)
            publish(tmp, target)
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - one line to the user
        raise PpfomError(
            f"could not download {name} from {url} ({_download_reason(exc)}): {hint}"
        ) from None
    return target


def _download_reason(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return _reason(exc.reason) if isinstance(exc.reason, BaseException) else str(exc.reason)
    return _reason(exc)


def _fetch(url: str, dest: str, timeout: float) -> None:
    """Stream ``url`` into ``dest``; a short body is an error, not a file."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        received = 0
        with open(dest, "wb") as out, _progress(total, os.path.basename(url)) as bar:
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                received += len(chunk)
                bar(len(chunk))
    if total is not None and received != total:
        raise OSError(f"received {received} of {total} bytes")


@contextlib.contextmanager
def _progress(total: int | None, label: str) -> Iterator[object]:
    """A tqdm bar when the size is known and tqdm is installed; else silence."""
    try:
        from tqdm import tqdm
    except ImportError:
        tqdm = None
    if total is None or tqdm is None:
        yield lambda n: None
        return
    # disable=None: no bar when stderr is not a terminal (logs, CI).
    with tqdm(total=total, unit="B", unit_scale=True, desc=label, disable=None) as bar:
        yield bar.update
