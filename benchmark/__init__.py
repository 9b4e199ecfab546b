"""placedock's benchmarks, a package a job, each run as `python -m benchmark.<package>.<module>`:
throughput (start time, throughput, memory, image size, writes), scale (the size sweep and
nova's boots a minute), front (hostile clients and what the front costs); support holds what
two or more of them use."""
