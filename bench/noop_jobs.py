"""A job that does nothing, for bench/worker_rate.py: rq's own cost per job, with no work."""


def noop() -> None:
    """Return at once."""
    return None
