"""The phone simulator (development only): a basic phone that talks to the line through the
real webhooks, with the providers' own payloads, signed or carrying the token, and the
outbox of every SMS the console provider 'sent'."""
from __future__ import annotations

from flask import Blueprint, Flask, abort, current_app, jsonify, render_template, request
from sqlalchemy import select

from hotline import channels, smsbudget
from hotline.channels.base import Mode, Provider, Rejected
from hotline.models import OutboundMessage

bp = Blueprint("simulator", __name__, url_prefix="/simulator", template_folder="templates", static_folder="static")


def modes() -> dict[str, tuple[Provider, Mode]]:
    """Every way the simulated phone can reach the line, by name: each provider module says how it
    calls the line (USSD over Africa's Talking, SMS over Twilio, Africa's Talking or Kannel)."""
    every = [(name, (provider, mode)) for provider in channels.PROVIDERS.values() for name, mode in provider.modes.items()]
    return dict(sorted(every, key=lambda item: item[1][1].channel != "ussd"))  # dialling first: the phone's default


MODES = tuple(modes())
"""The simulator's mode names."""


def deliver(app: Flask, mode: str, phone: str, text: str, session_id: str | None = None,
            full_text: str | None = None, action: str | None = None) -> dict:
    """Make one provider request to the app's own webhook, exactly as the provider would (for a call,
    `action` is where its last TwiML said the keys go)."""
    settings = app.extensions["hotline"].settings
    provider, info = modes()[mode]
    typed = full_text if full_text is not None and info.channel == "ussd" else text
    extra = {"action": action} if info.channel == "voice" else {}
    try:
        req = provider.simulate(mode, phone, typed, session_id, settings.provider(provider.slug), settings, **extra)
    except Rejected as exc:
        return {"status": exc.status, "body": exc.message, "session_id": session_id, "path": "", "inline": True}
    base = settings.public_base_url or "http://localhost"
    path = req.path + (f"?{req.query}" if req.query else "")
    with app.test_client() as client:
        response = client.open(path, method=req.method, data=dict(req.form) or None, headers=dict(req.headers),
                               base_url=base)
    body = response.get_data(as_text=True)
    result = {"status": response.status_code, "body": body, "session_id": req.session_id, "path": req.path,
              "inline": info.inline}
    if info.channel == "voice" and response.status_code == 200 and body.startswith("<?xml"):
        from hotline.simulator import heard

        result["call"] = heard.read(app.extensions["hotline"], body)
    if info.channel == "ussd" and response.status_code == 200:
        enc = smsbudget.encoding(body)  # what the screen holds, as the check counts it (CON/END included)
        result["screen"] = {"units": smsbudget.units(body, enc), "limit": smsbudget.USSD_PAGE[enc], "encoding": enc}
    return result


@bp.get("/")
def page():
    """The phone."""
    s = current_app.extensions["hotline"]
    contacts = [{"id": c.id, "name": c.name, "phone": c.phone, "kind": c.kind} for c in s.directory.contacts if c.phone]
    info = {name: {"label": mode.label, "channel": mode.channel, "inline": mode.inline}
            for name, (_, mode) in modes().items()}
    dial = next((mode.dial for _, mode in modes().values() if mode.dial), "")
    return render_template("simulator.html", line=s.directory.line, contacts=contacts, modes=info, short_code=dial)


@bp.post("/api/send")
def send():
    """Deliver one keypress sequence or SMS from the simulated phone."""
    data = request.get_json(silent=True) or {}
    mode, phone, text = data.get("mode"), str(data.get("phone") or ""), str(data.get("text") or "")
    if mode not in MODES:
        return jsonify(error=f"mode must be one of {', '.join(MODES)}"), 400
    if not phone.startswith("+") or not phone[1:].isdigit():
        return jsonify(error="phone must be an international number like +85512345678"), 400
    action = data.get("action")
    if action is not None and not isinstance(action, str):
        return jsonify(error="action must be the URL the line's TwiML gave"), 400
    result = deliver(current_app._get_current_object(), mode, phone, text, data.get("session_id"), data.get("full_text"),
                     action)
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
