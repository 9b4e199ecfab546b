"""Start time, throughput, memory, image size and writes of placedock and its peers
(`python -m benchmark.throughput.run`). Nothing is imported here: benchmark.throughput.inprocess
also runs inside the image, which has only this checkout's benchmark and tests folders."""
