"""What goes out: the outbox (rows written with the step or job that made them, jobs enqueued after
commit, the sweep), alerts (who is told what, in which words), the means of delivery (SMS, webhook,
email) and the choice of SMS provider (preference, failover, send rates)."""
