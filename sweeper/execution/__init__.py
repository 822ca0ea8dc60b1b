"""Running trials: the functions workers run, the worker loop, fault handling, interrupts, options and progress."""
