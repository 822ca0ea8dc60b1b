"""Where trials run: the Backend protocol, this machine's worker processes (local/) and a Dask cluster (dask/)."""
