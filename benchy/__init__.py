"""benchy: benchmark edge ML models on real targets against latency, memory and accuracy budgets."""

__version__ = "0.1.0"
