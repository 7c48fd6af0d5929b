"""Admins' pages: the audit log (filtered by user, report and action) and the accounts of staff for
their whole life (create, change, disable, enable, reset), with the rules of `accounts`. A line
staff's admin manages every account; an agency's admin only its own agency's (`scoping.can_manage_users`),
and anything else does not exist for it (404) or is refused (403)."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from hotline import audit, reportnumber, scoping
from hotline.console import accounts
from hotline.console import query as args
from hotline.console.auth import role_required, services
from hotline.console.forms import AccountForm, ActionForm, UserForm, valid_or_400
from hotline.console.views import bp, words
from hotline.models import AuditEntry, User

AUDIT_PAGE = 50
"""Audit entries on one page."""

ACTOR_MAX = 80
"""Longest actor the audit page's filter takes (the column's length)."""


# ---- audit log ----------------------------------------------------------------------------------
def _audit_filters(db) -> tuple[dict, list, list[str]]:
    """The audit page's filters (user, report, action), their conditions, and the actions on offer."""
    actions = sorted(db.scalars(select(AuditEntry.action).distinct()))
    filters = {"user": request.args.get("user", "").strip()[:ACTOR_MAX],
               "report": reportnumber.clean(request.args.get("report", "")),
               "action": args.one_of("action", actions) or ""}
    conditions = []
    if filters["user"]:
        actor = filters["user"] if ":" in filters["user"] else f"user:{filters['user']}"
        conditions.append(AuditEntry.actor == actor)
    if filters["report"]:
        if not reportnumber.is_valid(filters["report"]):
            abort(400, _("%(name)s must be a report number (7 digits, the last a check digit).", name="report"))
        conditions.append(AuditEntry.target == filters["report"])
    if filters["action"]:
        conditions.append(AuditEntry.action == filters["action"])
    return filters, conditions, actions


@bp.get("/audit")
@role_required("admin")
def audit_log():
    """The audit log, newest first, filtered, and whether its chain holds."""
    page = args.page()
    with services().Session() as db:
        check = audit.verify(db)
        filters, conditions, actions = _audit_filters(db)
        query = select(AuditEntry).where(*conditions)
        if current_user.agency_id is not None:  # an agency's admin reads its own agency's entries only
            query = query.where(audit.agency_entries(db, current_user.agency_id))
        entries = db.scalars(query.order_by(AuditEntry.id.desc()).offset((page - 1) * AUDIT_PAGE)
                             .limit(AUDIT_PAGE)).all()
    return render_template("console/audit.html", entries=entries, check=check, page=page, filters=filters,
                           actions=actions, per_page=AUDIT_PAGE)


# ---- accounts -----------------------------------------------------------------------------------
def _refusal(exc: accounts.AccountError) -> str:
    """Why the rules refused a change to an account, in the reader's language."""
    if exc.code == "last_admin":
        return _("%(u)s is the last active line-staff admin: make another one first.", u=exc.username)
    if exc.code == "exists":
        return _("There is already an account named %(u)s.", u=exc.username)
    return str(exc)


def _agency_choices(form) -> None:
    """The agencies an admin may give an account: line staff's admins any (or line staff), an
    agency's admin only its own."""
    own = current_user.agency_id
    agencies = [(c.id, c.name) for c in services().directory.contacts if c.kind == "agency" and own in (None, c.id)]
    form.agency.choices = agencies if own is not None else [("", _("line staff (all reports)"))] + agencies
    form.role.choices = [(r, words().role(r)) for r in scoping.ROLES]


@bp.route("/users", methods=["GET", "POST"])
@role_required("admin")
def users():
    """Accounts: list, and create one with a one-time password. Line staff's admins manage every
    account; an agency's admin sees and creates its own agency's accounts only."""
    s = services()
    own = current_user.agency_id
    form = UserForm()
    _agency_choices(form)
    created, refused = None, None
    if form.validate_on_submit():
        agency = form.agency.data or None
        if not scoping.can_manage_users(current_user.role, own, agency):
            refused = _("You may create accounts for your own agency only: not for line staff or another agency.")
        else:
            try:
                created = (form.username.data.strip(), accounts.create_user(
                    s, form.username.data.strip(), form.role.data, agency, form.language.data, actor=current_user.actor))
            except accounts.AccountError as exc:
                flash(_refusal(exc), "error")
    people = accounts.listed(s, own, everyone=own is None)
    return render_template("console/users.html", form=form, people=people, created=created,
                           refused=refused), 403 if refused else 200


def _account_or_404(username: str) -> User:
    """An account the signed-in admin may manage; 404 for any other (its existence is not revealed)."""
    user = accounts.find(services(), username)
    if user is None or not scoping.can_manage_users(current_user.role, current_user.agency_id, user.agency_id):
        abort(404)
    return user


@bp.get("/users/<username>")
@role_required("admin")
def account(username: str):
    """One account: its role, agency, language and state, and what its admin may do to it."""
    user = _account_or_404(username)
    form = AccountForm(data={"role": user.role, "agency": user.agency_id or "", "language": user.language})
    _agency_choices(form)
    return render_template("console/account.html", user=user, form=form, action=ActionForm(),
                           one_time=None)


@bp.post("/users/<username>")
@role_required("admin")
def change_account(username: str):
    """Change an account's role, agency or language (its open sessions follow from their next request)."""
    user = _account_or_404(username)
    form = AccountForm()
    _agency_choices(form)
    valid_or_400(form)
    agency = form.agency.data or None
    if not scoping.can_manage_users(current_user.role, current_user.agency_id, agency):
        abort(403)
    return _account_change(user.username, lambda s: accounts.update_user(
        s, user.username, current_user.actor, role=form.role.data, agency_id=agency, language=form.language.data),
        _("Account %(u)s changed.", u=user.username))


@bp.post("/users/<username>/disable")
@role_required("admin")
def disable_account(username: str):
    """Disable an account: every session of it ends at once."""
    user = _account_or_404(username)
    return _account_change(user.username, lambda s: accounts.set_active(s, user.username, False, current_user.actor),
                           _("Account %(u)s disabled: every session of it has ended.", u=user.username))


@bp.post("/users/<username>/enable")
@role_required("admin")
def enable_account(username: str):
    """Enable an account again, as it was (password unchanged)."""
    user = _account_or_404(username)
    return _account_change(user.username, lambda s: accounts.set_active(s, user.username, True, current_user.actor),
                           _("Account %(u)s enabled again.", u=user.username))


@bp.post("/users/<username>/reset")
@role_required("admin")
def reset_account(username: str):
    """A new one-time password, shown once on the page; every session of the account ends."""
    user = _account_or_404(username)
    valid_or_400(ActionForm())
    one_time = accounts.reset_password(services(), user.username, current_user.actor)
    user = accounts.find(services(), user.username)
    form = AccountForm(data={"role": user.role, "agency": user.agency_id or "", "language": user.language})
    _agency_choices(form)
    return render_template("console/account.html", user=user, form=form, action=ActionForm(), one_time=one_time)


def _account_change(username: str, change, done: str):
    """Make one change to an account; back to its page, saying what happened or why not."""
    valid_or_400(ActionForm())
    try:
        change(services())
    except accounts.AccountError as exc:
        flash(_refusal(exc), "error")
    else:
        flash(done, "ok")
    if current_user.is_authenticated and accounts.find(services(), username) is not None:
        return redirect(url_for("console.account", username=username)), 303
    return redirect(url_for("console.users")), 303
