"""The study declaration: ``Study``, search spaces, loading a study file, its data and direction."""

from sweeper.study._space import choice, float_range, int_range
from sweeper.study._study import Study

__all__ = ["Study", "choice", "float_range", "int_range"]
