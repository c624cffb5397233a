# Copyright (c) mmavs contributors. All rights reserved.
"""Timing helpers shared by the benchmark tools."""
import gc
import resource
import statistics
import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Callable, Dict, List

import torch
import torch.nn as nn


def synchronize(device: torch.device) -> None:
    """Wait for queued kernels so that wall-clock timings are real."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_calls(fn: Callable[[], object], device: torch.device,
               warmup: int, repeats: int) -> List[float]:
    """Seconds per call of ``fn`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return times


def summarize(times: List[float]) -> Dict[str, float]:
    """Median, quartiles, min and max of a list of durations (seconds)."""
    ordered = sorted(times)
    quartiles = statistics.quantiles(ordered, n=4) if len(ordered) > 1 \
        else [ordered[0]] * 3
    return dict(median=statistics.median(ordered), q1=quartiles[0],
                q3=quartiles[2], min=ordered[0], max=ordered[-1],
                n=len(ordered))


class StageTimer:
    """Accumulate the wall time spent inside chosen sub-modules.

    Forward pre/post hooks record the time around each module call (with a
    device synchronisation on CUDA, so use it for profiling runs only).

    Args:
        stages (dict[str, nn.Module]): Stage name -> module. A module may
            also be a type (e.g. ``MSDeformAttention``): every instance in
            ``root`` is timed under that name.
        root (nn.Module): Model searched for instances of types.
        device (torch.device): Device to synchronise.
    """

    def __init__(self, stages: Dict[str, object], root: nn.Module,
                 device: torch.device):
        self.device = device
        self.totals: Dict[str, float] = defaultdict(float)
        self._handles = []
        self._starts: Dict[int, float] = {}
        for name, target in stages.items():
            modules = [target] if isinstance(target, nn.Module) else [
                m for m in root.modules() if isinstance(m, target)
            ]
            for module in modules:
                self._handles.append(module.register_forward_pre_hook(
                    self._pre_hook()))
                self._handles.append(module.register_forward_hook(
                    self._post_hook(name)))

    def _pre_hook(self):
        def hook(module, args):
            synchronize(self.device)
            self._starts[id(module)] = time.perf_counter()
        return hook

    def _post_hook(self, name):
        def hook(module, args, output):
            synchronize(self.device)
            self.totals[name] += time.perf_counter() - self._starts.pop(
                id(module))
        return hook

    def reset(self) -> None:
        """Forget the accumulated times."""
        self.totals.clear()

    def remove(self) -> None:
        """Detach the hooks."""
        for handle in self._handles:
            handle.remove()


def reset_peak_memory(device: torch.device) -> None:
    """Start a new CUDA peak-allocation count (runs in one process would
    otherwise all report the largest one). The CPU peak RSS cannot be reset.

    Args:
        device (torch.device): The device of the next run.
    """
    if device.type == 'cuda':
        gc.collect()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device: torch.device) -> Dict[str, float]:
    """Peak resident memory of the process and peak CUDA allocation (MiB)."""
    memory = dict(cpu_rss_mb=resource.getrusage(
        resource.RUSAGE_SELF).ru_maxrss / 1024.0)
    if device.type == 'cuda':
        memory['cuda_max_allocated_mb'] = torch.cuda.max_memory_allocated(
            device) / 2**20
    return memory


@contextmanager
def autocast(device: torch.device, dtype: str):
    """Mixed precision for ``dtype`` in {'fp32', 'fp16', 'bf16'}."""
    if dtype == 'fp32':
        yield
        return
    torch_dtype = dict(fp16=torch.float16, bf16=torch.bfloat16)[dtype]
    with torch.autocast(device_type=device.type, dtype=torch_dtype):
        yield
