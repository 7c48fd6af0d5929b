"""`python -m hotline users …`: console accounts from the command line (docs/contract.md section 7),
with the same rules as the console's Users pages (`accounts`), acting as `cli` in the audit log.

Exit 0 on success, 1 when the rules refuse (the reason on stderr), 2 for a command line that
means nothing. A one-time password is printed alone on the last line, for scripts to read.
"""
from __future__ import annotations

import sys

from hotline.scoping import ROLES

ACTOR = "cli"
"""How the audit log names the command line."""

LANGUAGES = ("en", "km")
"""The console's languages (accounts.LANGUAGES, here without importing the console)."""


def add_parser(sub) -> None:
    """Add `users` and its commands to the main parser's subcommands."""
    users = sub.add_parser("users", help="console accounts: add, list, disable, enable, reset, set")
    commands = users.add_subparsers(dest="users_command", required=True, metavar="add|list|disable|enable|reset|set")
    add = commands.add_parser("add", help="a new account; prints its one-time password alone on the last line")
    add.add_argument("username")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--agency", help="the directory id of the user's agency (none: line staff, who see all)")
    add.add_argument("--language", choices=LANGUAGES, default="en")
    commands.add_parser("list", help="a line per account: name, role, agency or line staff, language, state")
    for name, words in (("disable", "disable an account: every session of it ends at once"),
                        ("enable", "enable an account again as it was (password unchanged)"),
                        ("reset", "a new one-time password (alone on the last line); every session ends")):
        commands.add_parser(name, help=words).add_argument("username")
    change = commands.add_parser("set", help="change role, agency or language (open sessions follow at once)")
    change.add_argument("username")
    change.add_argument("--role", choices=ROLES)
    where = change.add_mutually_exclusive_group()
    where.add_argument("--agency", help="move the account to this agency of the directory")
    where.add_argument("--line-staff", action="store_true", help="make the account line staff (sees every report)")
    change.add_argument("--language", choices=LANGUAGES)


def run(args) -> int:
    """Carry out one `users` command; the exit status."""
    from hotline.console import accounts
    from workers.context import services

    s = services()
    try:
        return COMMANDS[args.users_command](s, args)
    except accounts.AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _add(s, args) -> int:
    """`users add NAME --role … [--agency ID] [--language …]`."""
    from hotline.console import accounts

    password = accounts.create_user(s, args.username, args.role, args.agency, args.language, actor=ACTOR)
    print(f"created {args.username}: {args.role}, {args.agency or 'line staff'}, {args.language}; "
          "one-time password, to be changed at first sign-in:")
    print(password)
    return 0


def _list(s, args) -> int:
    """`users list`: name, role, agency or line staff, language, active or disabled."""
    from hotline.console import accounts

    for u in accounts.listed(s):
        print(f"{u.username:20} {u.role:10} {u.agency_id or 'line staff':28} {u.language:3} "
              f"{'active' if u.active else 'disabled'}")
    return 0


def _disable(s, args) -> int:
    """`users disable NAME`."""
    from hotline.console import accounts

    accounts.set_active(s, args.username, False, actor=ACTOR)
    print(f"disabled {args.username}; every session of it has ended")
    return 0


def _enable(s, args) -> int:
    """`users enable NAME`."""
    from hotline.console import accounts

    accounts.set_active(s, args.username, True, actor=ACTOR)
    print(f"enabled {args.username} as it was (password unchanged)")
    return 0


def _reset(s, args) -> int:
    """`users reset NAME`."""
    from hotline.console import accounts

    password = accounts.reset_password(s, args.username, actor=ACTOR)
    print(f"every session of {args.username} has ended; new one-time password, to be changed at first sign-in:")
    print(password)
    return 0


def _set(s, args) -> int:
    """`users set NAME [--role …] [--agency …|--line-staff] [--language …]`."""
    from hotline.console import accounts

    agency = None if args.line_staff else (args.agency if args.agency is not None else accounts.KEEP)
    changes = accounts.update_user(s, args.username, ACTOR, role=args.role, agency_id=agency, language=args.language)
    if not changes:
        print(f"{args.username}: nothing to change")
    for field, (before, after) in changes.items():
        print(f"{args.username}: {field} {_shown(before)} -> {_shown(after)}")
    return 0


def _shown(value: str | None) -> str:
    """A field's value as printed (an agency of None is line staff)."""
    return "line staff" if value is None else value


COMMANDS = {"add": _add, "list": _list, "disable": _disable, "enable": _enable, "reset": _reset, "set": _set}
"""Each `users` command and what carries it out."""

