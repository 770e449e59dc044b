"""tracekit: communication analysis of multi-GPU LLM inference traces."""

__version__ = "0.1.0"
