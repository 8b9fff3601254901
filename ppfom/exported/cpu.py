"""What the CPU offers that changes which backend and precision are fastest.

bfloat16 pays where the CPU multiplies bfloat16 natively: AMX tiles (Intel
Sapphire Rapids and later), or AVX512-BF16 where OpenVINO's bfloat16 was
measured faster than float32 (``benchmarks/bench_animate.py``). Flags are read
once from ``/proc/cpuinfo``; other systems report none (float32 everywhere).
"""
from __future__ import annotations

from functools import lru_cache

# Measured on a 2-core Xeon with AVX512-BF16 and no AMX (vox-256 generator, OpenVINO 2026.4): bf16
# 633 ms against f32 470 ms, so AVX512-BF16 alone does not make bfloat16 worth its error; with AMX
# bf16 took 49 ms against 322 ms.
BF16_PAYS_ON_AVX512 = False


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (empty where /proc/cpuinfo does not exist)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                key, _, value = line.partition(":")
                if key.strip() == "flags":
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


def native_bf16(flags: frozenset[str] | set[str] | None = None) -> bool:
    """Whether bfloat16 inference is faster than float32 on a CPU with these ``flags``."""
    flags = cpu_flags() if flags is None else flags
    return "amx_bf16" in flags or ("avx512_bf16" in flags and BF16_PAYS_ON_AVX512)
