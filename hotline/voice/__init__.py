"""The voice line: calls through TwiML (Twilio, Somleng, any Twilio-compatible platform), driven by
the same dialogue engine as USSD and SMS (docs/contract.md section 8).

- `webhooks`: the call webhooks and the clips the platform plays;
- `twiml`: a speech as TwiML; `schema`: what Twilio and Somleng accept of it;
- `catalogue`: every text a call speaks per language, the clips each needs, the languages offered;
- `audio`: clips checked (format, length, loudness) and stored;
- `recording`: the staff recording call; `callback`: the caseworker's masked call to a reporter.
"""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the voice line's webhooks and clips."""
    from hotline.voice import recording, webhooks  # noqa: F401  (recording's routes join webhooks.bp)

    app.register_blueprint(webhooks.bp)
