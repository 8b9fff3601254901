"""One line naming the CPU a benchmark ran on: figures from different CPUs are not comparable."""
from __future__ import annotations

import os
import platform

FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_int8")


def cpu_line() -> str:
    """``# CPU: <model>, N cores, flags: ...`` from /proc/cpuinfo (the platform's name elsewhere)."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
    except OSError:
        pass
    have = [f for f in FLAGS if f in flags] or ["none of " + " ".join(FLAGS)]
    return f"# CPU: {model}, {os.cpu_count()} cores, flags: {' '.join(have)}"
