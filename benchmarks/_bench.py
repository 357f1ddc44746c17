"""What the benchmark scripts share: interleaved best-of-n timing and the atomic JSON write."""
from __future__ import annotations

import json
import os
import tempfile
import time


def interleaved(calls: dict, repeat: int) -> dict:
    """{name: (best seconds, all seconds)}: ``repeat`` rounds, each calling every function once,
    after one warm-up call each (so that compilation and caches are out of the timings)."""
    for fn in calls.values():
        fn()
    times = {name: [] for name in calls}
    for _ in range(repeat):
        for name, fn in calls.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: (min(t), t) for name, t in times.items()}


def write_json_atomic(path: str, obj) -> None:
    """Write ``obj`` as JSON to ``path`` through a temporary file in the same folder (never half a file)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=1)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
