"""The local backend: one loky executor per worker slot, the driver loop that keeps them busy, and worker recycling."""
