"""placedock's benchmark: start time, throughput, memory, image size, writes
(python -m benchmark.run)."""
