"""What two or more benchmarks use: process trees' CPU and memory, wrk, Markdown tables. It
imports no other benchmark package."""
