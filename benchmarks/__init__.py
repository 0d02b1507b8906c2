"""twinserve benchmarks: scripts that print medians and ratios against a baseline from the same run."""
