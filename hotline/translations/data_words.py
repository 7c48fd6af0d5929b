"""Words the console prints from data (statuses, report types, alert states...), listed here only so
that `pybabel extract` puts them in the catalogue; templates show them through `_(value)`.

The data itself stays in English: only what the page shows is translated.
"""
_ = lambda s: s  # noqa: E731  (a marker for extraction, not a translation)

STATUSES = (_("new"), _("acknowledged"), _("in_progress"), _("referred"), _("closed"))
"""Report statuses (hotline.models.STATUSES)."""

TYPES = (_("recruiter"), _("missing"), _("urgent"), _("unsorted"))
"""The shipped report types (config/flows.yaml), so the console has their Khmer names; a type added
there is shown by its name until the catalogue is updated."""

DELIVERY = (_("pending"), _("queued"), _("sent"), _("delivered"), _("failed"))
"""States of an alert's delivery."""

MEANS = (_("sms"), _("webhook"), _("email"))
"""How an alert is sent."""

ALERT_KINDS = (_("new"), _("escalated"), _("updated"), _("located"))
"""Why an alert was sent (hotline.models.Alert.kind)."""

TIMELINE = (_("created"), _("routed"), _("escalated"), _("acknowledged"), _("status changed"), _("assigned"),
            _("note"), _("message sent"), _("number revealed"), _("number erased"), _("detail added"), _("answered"))
"""Timeline entry kinds, as shown (underscores made spaces)."""

ROLES = (_("admin"), _("caseworker"), _("viewer"))
"""Console roles (hotline.scoping.ROLES)."""
