"""Command line: `python -m hotline check | simulate | dev | sweep | users | …`."""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Dispatch a subcommand."""
    parser = argparse.ArgumentParser(prog="python -m hotline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    check_cmd = sub.add_parser("check", help="validate the directory, areas and flows; measure every screen")
    check_cmd.add_argument("--answers", action="store_true",
                           help="also count the answers each report takes, per channel and language")
    sub.add_parser("migrate", help="bring the database schema up to date (safe to run again)")
    dev = sub.add_parser("dev", help="run Redis (if needed), web and worker on this machine")
    dev.add_argument("--port", type=int, default=None)
    sub.add_parser("sweep", help="re-enqueue unrouted reports and unsent SMS, and reschedule lost escalations, now")
    from hotline.console import cli as users_cli

    users_cli.add_parser(sub)
    sub.add_parser("retention", help="erase reporters' numbers from reports closed longer than HOTLINE_RETENTION_DAYS, "
                                    "or open longer than HOTLINE_OPEN_RETENTION_DAYS")
    sub.add_parser("mask-numbers", help="mask each reporter's own number in the words stored with their reports "
                                        "(once, after upgrading from a version that stored them as typed)")
    sub.add_parser("link", help="link every stored report now (after upgrading; workers link new reports "
                                "themselves): identifiers, clusters told to agencies, suggestions")
    dead = sub.add_parser("dead-letters", help="list deliveries that failed every retry; --requeue sends them again")
    dead.add_argument("--requeue", nargs="*", metavar="JOB_ID", help="requeue these jobs (none named: all)")
    simulate = sub.add_parser("simulate", help="a basic phone in the terminal, talking to a running line")
    from hotline.simulator import terminal

    terminal.add_arguments(simulate)
    gateway = sub.add_parser("gateway", help="the SMPP path on this machine: an SMSC simulator with Kannel's bearerbox "
                                             "and smsbox, pointed at a running line (needs: apt-get install kannel)")
    gateway.add_argument("--line-url", default="http://127.0.0.1:5000", help="base URL of the running line")
    gateway.add_argument("--token", help="the line's KANNEL_WEBHOOK_TOKEN (default: a new one, printed)")
    gateway.add_argument("--short-code", default="1700", help="the short code the simulated phones text")
    args = parser.parse_args(argv)
    if args.command == "check":
        from hotline import check

        return check.main(answers=args.answers)
    if args.command == "migrate":
        from hotline import db
        from hotline.settings import Settings

        db.upgrade(Settings.from_env().database_url)
        print("database schema is up to date")
        return 0
    if args.command == "dev":
        from hotline import devserver

        return devserver.main(args.port)
    if args.command == "users":
        return users_cli.run(args)
    if args.command == "retention":
        from workers.jobs import erase_expired_numbers

        print(f"erased the reporter's number of {erase_expired_numbers()} reports")
        return 0
    if args.command == "mask-numbers":
        from hotline import reports
        from workers.context import services

        s = services()
        print(f"masked the reporter's own number in {reports.mask_stored(s.Session, s.vault, s.directory.line.country)} reports")
        return 0
    if args.command == "link":
        from hotline.linking import work
        from workers.context import services

        counts = work.backfill(services(), out=print)
        print(f"linked {counts['reports']} reports: {counts['clusters']} cluster alerts queued, "
              f"{counts['suggestions']} new suggestions")
        return 0
    if args.command == "dead-letters":
        from hotline.outbound import deadletters
        from workers.context import services

        if args.requeue is not None:
            print(f"requeued {deadletters.requeue(services(), args.requeue or None)} jobs")
            return 0
        dead = deadletters.list_dead(services())
        for d in dead:
            print(f"{d['ended_at']}  {d['queue']:7} {d['job_id']:24} {d['func']}({', '.join(map(str, d['args']))})  {d['error']}")
        print(f"{len(dead)} dead letters")
        return 0
    if args.command == "sweep":
        from workers.jobs import sweep_outbox

        print(sweep_outbox())
        return 0
    if args.command == "simulate":
        return terminal.main(["--url", args.url, "--mode", args.mode] + (["--phone", args.phone] if args.phone else []))
    if args.command == "gateway":
        from hotline.gateway import cli

        return cli.main(args.line_url, args.token, args.short_code)
    return 2


if __name__ == "__main__":
    sys.exit(main())
