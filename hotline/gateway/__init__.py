"""The SMPP side of the line, for tests and operators: a local SMSC simulator (smsc, smscapi),
Kannel's bearerbox and smsbox configured and run around it (kannel), both together (stack), and
`python -m hotline gateway` (cli). The line itself never speaks SMPP: it talks to Kannel over HTTP."""
