"""The picture type the vision models take: an 8-bit BGR array (OpenCV's layout)."""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import numpy.typing as npt

Bgr: TypeAlias = npt.NDArray[np.uint8]
