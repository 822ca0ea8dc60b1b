"""Optuna storages: opening them, redacting their URLs, heartbeats, and the catalog of studies that ran."""
