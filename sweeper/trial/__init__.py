"""One trial in a worker: the per-process context, the probe, running and recording one trial, and its outcome."""
