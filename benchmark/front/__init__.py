"""The front (nginx, placedock.front): hostile clients (`python -m
benchmark.front.hostile_clients`) and what it costs (`python -m benchmark.front.cost`)."""
