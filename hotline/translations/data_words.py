"""Words the console prints for codes it reads from data (statuses, timeline entries, alert states...):
each code with the words shown for it, listed here so that `pybabel extract` puts them in the
catalogue; `hotline.console.labels` looks them up and translates them when a page is drawn.

The data itself stays in codes. Report types and answers are not here: their words are the line's
own, in config/messages/<lang>.yaml (`alert_type_<type>`, the option keys), so a type added to
config/flows.yaml is named in every language the line speaks without touching the console.
"""
_ = lambda s: s  # noqa: E731  (a marker for extraction, not a translation)

STATUSES = {"new": _("new"), "acknowledged": _("acknowledged"), "in_progress": _("in progress"),
            "referred": _("referred"), "closed": _("closed")}
"""Report statuses (hotline.models.STATUSES)."""

DELIVERY = {"pending": _("waiting"), "queued": _("queued"), "sent": _("sent"), "delivered": _("delivered"),
            "failed": _("failed"), "retrying": _("retrying"), "dead": _("dead letter")}
"""States of an alert's delivery (the last two are the console's: a failed try with another due, and
every try failed)."""

MEANS = {"sms": _("SMS"), "webhook": _("webhook"), "email": _("email")}
"""How an alert is sent."""

ALERT_KINDS = {"new": _("first alert"), "escalated": _("escalation"), "updated": _("status update"),
               "located": _("place given"), "cluster": _("cluster of reports")}
"""Why an alert was sent (hotline.models.Alert.kind)."""

TIMELINE = {"created": _("created"), "routed": _("routed"), "escalated": _("escalated"),
            "acknowledged": _("acknowledged"), "status_changed": _("status changed"), "assigned": _("assigned"),
            "note": _("note"), "message_sent": _("message sent"), "number_revealed": _("number revealed"),
            "number_erased": _("number erased"), "detail_added": _("detail added"), "answered": _("answered"),
            "merged": _("merged as one event"), "unmerged": _("merge undone"),
            "call_requested": _("call to the reporter asked for"), "call_ended": _("call to the reporter ended")}
"""Timeline entry kinds (hotline.models.ReportEvent.kind)."""

LINK_BY = {"phone": _("same phone number"), "name": _("similar agency name"), "description": _("similar description"),
           "duplicate": _("same event")}
"""What links two reports (hotline.linking: the contract's `by`), and the kinds of recruiter identifier."""

ROLES = {"admin": _("admin"), "caseworker": _("caseworker"), "viewer": _("viewer")}
"""Console roles (hotline.scoping.ROLES)."""

AREA_LEVELS = {"province": _("province"), "district": _("district"), "commune": _("commune"),
               "village": _("village")}
"""Levels of the gazetteer (hotline.areas.LEVELS)."""

CHANNELS = {"ussd": _("USSD"), "sms": _("SMS"), "voice": _("call")}
"""How a report came in."""

CALL_OUTCOMES = {"completed": _("they spoke"), "answered": _("they spoke"), "busy": _("the reporter's phone was busy"),
                 "no-answer": _("the reporter did not answer"), "failed": _("the call failed"),
                 "canceled": _("cancelled"), "refused": _("not placed: the reporter may not be called"),
                 "caseworker busy": _("your phone was busy"), "caseworker no-answer": _("your phone did not answer"),
                 "caseworker failed": _("your phone could not be called"),
                 "caseworker canceled": _("cancelled"), "caseworker completed": _("you hung up first")}
"""How a masked call-back ended (hotline.models.Call.outcome)."""

CSV_COLUMNS = {"number": _("Number"), "type": _("Type"), "status": _("Status"), "created_at": _("Received"),
               "acknowledged_at": _("Acknowledged"), "closed_at": _("Closed"), "province": _("Province"),
               "district": _("District"), "commune": _("Commune"), "village": _("Village"),
               "language": _("Language"), "channel": _("Channel")}
"""Headings of the CSV export's columns (a `<column>_code` column is headed "<heading> (code)")."""
