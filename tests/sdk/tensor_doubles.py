"""Stand-ins for torch tensors, for the duck-typed tensor path (always tested, torch or not)."""

from __future__ import annotations

import numpy as np


class DuckTensor:
    """Looks like a torch tensor to darkroom: detach/cpu/numpy, and nothing else."""

    def __init__(self, array: np.ndarray):
        self.backing = array
        self.calls: list[str] = []  # which of the three were called, in order

    def detach(self) -> "DuckTensor":
        self.calls.append("detach")
        return self

    def cpu(self) -> "DuckTensor":
        self.calls.append("cpu")
        return self

    def numpy(self) -> np.ndarray:
        self.calls.append("numpy")
        return self.backing  # shares memory, as torch's .numpy() does


class Device:
    def __init__(self, type: str):
        self.type = type


class GpuDuckTensor(DuckTensor):
    """A tensor on a GPU: `.cpu()` copies it to a new host tensor, as torch's does."""

    device = Device("cuda")

    def cpu(self) -> DuckTensor:
        self.calls.append("cpu")
        self.host = DuckTensor(self.backing.copy())
        return self.host
