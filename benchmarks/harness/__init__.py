"""The benchmark harness: targets (local Lambda emulator, local container, AWS), scenarios, records."""
