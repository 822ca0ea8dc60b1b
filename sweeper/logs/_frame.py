"""The result's columns, and the DataFrame both readers build from them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

COLUMNS = ("run", "tag", "step", "value", "wall_time")


def build_frame(
    run: Sequence[str], tag: Sequence[str], step: Sequence[int], value: Sequence[float], wall_time: Sequence[float]
) -> pd.DataFrame:
    """The points as a DataFrame with `COLUMNS` and their documented dtypes.

    Args:
        run: Each point's run name.
        tag: Each point's tag.
        step: Each point's step.
        value: Each point's value.
        wall_time: Each point's wall time, in seconds since the epoch.

    Returns:
        Columns ``run`` and ``tag`` (str), ``step`` (int64), ``value`` and ``wall_time`` (float64).
    """
    return pd.DataFrame(
        {
            "run": pd.Series(np.asarray(run, dtype=object), dtype=str),
            "tag": pd.Series(np.asarray(tag, dtype=object), dtype=str),
            "step": np.asarray(step, np.int64),
            "value": np.asarray(value, np.float64),
            "wall_time": np.asarray(wall_time, np.float64),
        }
    )
