"""The Dask backend: worker loops on every Dask worker, against a shared RDB storage."""
