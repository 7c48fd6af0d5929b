"""rq job functions. Each takes ids only and builds what it needs from the environment."""
