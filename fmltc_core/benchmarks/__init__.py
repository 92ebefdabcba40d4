"""Speed benchmarks: one module per topic, each with run(quick) -> list[dict]."""
