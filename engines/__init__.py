"""Model engines: registry and presets, loading, stage functions and runtimes. No Ray imports."""
