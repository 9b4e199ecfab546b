"""What a cloud's size costs: the size sweep (`python -m benchmark.scale.sweep`) and nova's
boots a minute (`python -m benchmark.scale.capacity`), on the same database servers."""
