"""The SMPP side of the line, for tests and operators: a local SMSC simulator (smsc, smpp, smscapi,
encoding), Kannel's bearerbox and smsbox configured and run around it (kannelconf, kannel), both
together (stack), and `python -m hotline gateway` (cli). The line itself never speaks SMPP: it talks
to Kannel over HTTP."""

LOOPBACK = "127.0.0.1"
"""Every program of the local stack listens and connects here only."""
