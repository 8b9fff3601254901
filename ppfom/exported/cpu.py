"""What the CPU is, as far as it changes which backend and precision are fastest.

Only measured choices are encoded (``benchmarks/bench_animate.py``, 2 cores,
OpenVINO 2026.4, onnxruntime 1.2x):

- Intel with AMX (bfloat16 tiles): OpenVINO in bfloat16, 49 ms per vox-256 generator call against
  322 ms in float32 and 307 ms in onnxruntime.
- Intel without AMX (AVX512-BF16 only): OpenVINO in float32, 8-25% faster than onnxruntime on
  vox-256 and mobile at batch 1 and 8; its bfloat16 was slower than its float32 (0.60 against 0.36
  s per vox-256 frame), so AVX512-BF16 alone does not make bfloat16 worth its error.
- Anything else (the AMD EPYC machines, where OpenVINO was not measured): onnxruntime in float32,
  as measured there (0.36 s per vox-256 frame).

The CPU is read once from ``/proc/cpuinfo``; other systems report nothing (onnxruntime, float32).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

BF16_PAYS_ON_AVX512 = False  # see above: measured slower than float32 without AMX


@dataclass(frozen=True)
class Cpu:
    vendor: str = ""
    flags: frozenset[str] = frozenset()


@lru_cache(maxsize=1)
def this_cpu() -> Cpu:
    """Vendor and feature flags of the first CPU in /proc/cpuinfo (empty elsewhere)."""
    found: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                key, _, value = line.partition(":")
                found.setdefault(key.strip(), value.strip())
                if "flags" in found and "vendor_id" in found:
                    break
    except OSError:
        pass
    return Cpu(found.get("vendor_id", ""), frozenset(found.get("flags", "").split()))


def native_bf16(cpu: Cpu | None = None) -> bool:
    """Whether bfloat16 inference is faster than float32 on ``cpu`` (this one by default)."""
    flags = (cpu or this_cpu()).flags
    return "amx_bf16" in flags or ("avx512_bf16" in flags and BF16_PAYS_ON_AVX512)


def openvino_is_faster(cpu: Cpu | None = None) -> bool:
    """Whether OpenVINO beat onnxruntime on this kind of CPU (Intel, measured); elsewhere unmeasured."""
    cpu = cpu or this_cpu()
    return cpu.vendor == "GenuineIntel" or native_bf16(cpu)
