"""The report's figures: pure functions from the report tables to matplotlib Figures, one module per figure."""

from sweeper.reports.figures._curves import BEST_EPOCH_LABEL, PRUNED_LABEL, learning_curves
from sweeper.reports.figures._heatmap import patience_factor_heatmap
from sweeper.reports.figures._importances import importances_bar
from sweeper.reports.figures._replay import epochs_saved_vs_value_lost
from sweeper.reports.figures._tradeoff import value_vs_epochs

__all__ = [
    "BEST_EPOCH_LABEL",
    "PRUNED_LABEL",
    "epochs_saved_vs_value_lost",
    "importances_bar",
    "learning_curves",
    "patience_factor_heatmap",
    "value_vs_epochs",
]
