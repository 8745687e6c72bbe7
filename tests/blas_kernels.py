#!/usr/bin/env python3
"""The OpenBLAS kernels (OPENBLAS_CORETYPE values) this CPU can run, each tried in a subprocess.

numpy's OpenBLAS picks a kernel per CPU; forcing another shows whether a result depends on it. A kernel
counts when a matrix product runs under it and threadpoolctl reports it as the one in use (an
unsupported one may crash or fall back).

    python tests/blas_kernels.py            # every runnable kernel, one per line
    python tests/blas_kernels.py --others   # those other than the one this environment gets
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys

CANDIDATES = {
    "x86_64": ["Haswell", "SkylakeX", "SandyBridge", "Zen"],
    "aarch64": ["NEOVERSEN1", "ARMV8", "CORTEXA57"],
    "arm64": ["NEOVERSEN1", "ARMV8", "CORTEXA57"],
}
_PROBE = ("import numpy as np, threadpoolctl; a = np.ones((96, 96)); a @ a; "
          "print(next(i.get('architecture') or '' for i in threadpoolctl.threadpool_info() "
          "if i['internal_api'] == 'openblas'))")


def kernel_in_use(coretype: str | None) -> str | None:
    """The kernel OpenBLAS runs with OPENBLAS_CORETYPE=coretype (None: as the environment has it)."""
    env = dict(os.environ)
    if coretype is not None:
        env["OPENBLAS_CORETYPE"] = coretype
    proc = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=60)
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def runnable() -> list[str]:
    """Candidate kernels of this machine's architecture that run and are the kernel in use."""
    found = []
    for name in CANDIDATES.get(platform.machine(), []):
        used = kernel_in_use(name)
        if used and used.lower() == name.lower():
            found.append(name)
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--others", action="store_true", help="leave out the kernel this environment gets")
    args = ap.parse_args()
    kernels = runnable()
    if args.others:
        current = (kernel_in_use(None) or "").lower()
        kernels = [k for k in kernels if k.lower() != current]
    print("\n".join(kernels))


if __name__ == "__main__":
    main()
