"""What comes in: provider webhooks (the only code that reads Flask's request for them), intake
(one inbound message, one short transaction, one answer) and the conversations kept in Redis."""
