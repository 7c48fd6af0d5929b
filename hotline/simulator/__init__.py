"""The phone simulator (development only): a basic phone that talks to the line through the
real webhooks, with the providers' own payloads, signed or carrying the token, and the
outbox of every SMS the console provider 'sent'."""
from __future__ import annotations

import secrets
import urllib.parse

from flask import Blueprint, Flask, abort, current_app, jsonify, render_template, request
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from hotline import smsbudget

from hotline.models import OutboundMessage

bp = Blueprint("simulator", __name__, url_prefix="/simulator", template_folder="templates", static_folder="static")

MODES = ("ussd", "twilio", "at-sms")
"""USSD over Africa's Talking, SMS over Twilio, SMS over Africa's Talking."""

SHORT_CODE = "*384*123#"
LINE_NUMBER = "+85512345000"


def payload(mode: str, phone: str, text: str, session_id: str | None, full_text: str | None) -> tuple[str, dict]:
    """(webhook path, form fields) as the provider would send them."""
    if mode == "ussd":
        return "/webhooks/africastalking/ussd", {
            "sessionId": session_id or f"ATUid_{secrets.token_hex(16)}", "serviceCode": SHORT_CODE,
            "phoneNumber": phone, "networkCode": "99999", "text": full_text if full_text is not None else text}
    if mode == "twilio":
        sid = "SM" + secrets.token_hex(16)
        return "/webhooks/twilio/sms", {
            "MessageSid": sid, "SmsMessageSid": sid, "SmsSid": sid, "AccountSid": "AC" + "0" * 32,
            "From": phone, "To": LINE_NUMBER, "Body": text, "NumMedia": "0", "NumSegments": "1",
            "SmsStatus": "received", "ApiVersion": "2010-04-01"}
    return "/webhooks/africastalking/sms", {
        "from": phone, "to": "21512", "text": text, "id": secrets.token_hex(16),
        "date": "2026-01-01 00:00:00", "networkCode": "99999"}


def deliver(app: Flask, mode: str, phone: str, text: str, session_id: str | None = None,
            full_text: str | None = None) -> dict:
    """Post one provider request to the app's own webhook, signed or with the token."""
    settings = app.extensions["hotline"].settings
    path, form = payload(mode, phone, text, session_id, full_text)
    headers = {}
    query = f"?token={urllib.parse.quote(settings.at_webhook_token)}" if settings.at_webhook_token and mode != "twilio" else ""
    base = settings.public_base_url or "http://localhost"
    if mode == "twilio":
        headers["X-Twilio-Signature"] = RequestValidator(settings.twilio_auth_token or "").compute_signature(base + path, form)
    with app.test_client() as client:
        response = client.post(path + query, data=form, headers=headers, base_url=base)
    body = response.get_data(as_text=True)
    result = {"status": response.status_code, "body": body, "session_id": form.get("sessionId"), "path": path}
    if mode == "ussd" and response.status_code == 200:
        enc = smsbudget.encoding(body)  # what the screen holds, as the check counts it (CON/END included)
        result["screen"] = {"units": smsbudget.units(body, enc), "limit": smsbudget.USSD_PAGE[enc], "encoding": enc}
    return result


@bp.get("/")
def page():
    """The phone."""
    s = current_app.extensions["hotline"]
    contacts = [{"id": c.id, "name": c.name, "phone": c.phone, "kind": c.kind} for c in s.directory.contacts if c.phone]
    return render_template("simulator.html", line=s.directory.line, contacts=contacts, modes=MODES,
                           short_code=SHORT_CODE)


@bp.post("/api/send")
def send():
    """Deliver one keypress sequence or SMS from the simulated phone."""
    data = request.get_json(silent=True) or {}
    mode, phone, text = data.get("mode"), str(data.get("phone") or ""), str(data.get("text") or "")
    if mode not in MODES:
        return jsonify(error=f"mode must be one of {', '.join(MODES)}"), 400
    if not phone.startswith("+") or not phone[1:].isdigit():
        return jsonify(error="phone must be an international number like +85512345678"), 400
    result = deliver(current_app._get_current_object(), mode, phone, text, data.get("session_id"), data.get("full_text"))
    return jsonify(result)


@bp.get("/api/outbox")
def outbox():
    """Every SMS the line has sent (newest last), decrypted: development only."""
    s = current_app.extensions["hotline"]
    if s.settings.production:
        abort(404)
    after = request.args.get("after", "0")
    if not (after.isascii() and after.isdigit() and len(after) <= 12):  # "²" is a digit int() cannot read
        return jsonify(error="after must be a message id (a whole number)"), 400
    after_id = int(after)
    with s.Session() as session:
        rows = session.scalars(select(OutboundMessage).where(OutboundMessage.id > after_id)
                               .order_by(OutboundMessage.id).limit(200)).all()
        messages = [{"id": m.id, "to": s.vault.decrypt(m.recipient), "contact": m.contact_id, "body": m.body,
                     "purpose": m.purpose, "provider": m.provider, "status": m.status,
                     "created_at": m.created_at.isoformat()} for m in rows]
    return jsonify(messages=messages)


def init_app(app: Flask) -> None:
    """Register the simulator (never in production)."""
    app.register_blueprint(bp)
