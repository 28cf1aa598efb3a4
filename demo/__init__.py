"""Demo data: deterministic practices, clinicians, visits and answers for `make run` and the benchmarks."""
