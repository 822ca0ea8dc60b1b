"""The search: Optuna samplers and pruners from a study's names, and the bridge that prunes Keras epochs."""
