"""A changed directory takes effect without restarting; a broken one never replaces a good one."""
from __future__ import annotations

import shutil
import time

from hotline import services as services_module
from hotline.settings import ROOT, Settings

NEW_LEADER = """  - id: pv-new-village-leader
    name: New leader (fictional)
    kind: leader
    phone: "+85512000077"
    areas: ["14010104"]
"""


def wait_for(predicate, seconds=15.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_directory_edits_apply_without_restart(tmp_path, redis_url, database_url):
    shutil.copy(ROOT / "config" / "areas.csv", tmp_path / "areas.csv")
    directory = tmp_path / "directory.yaml"
    directory.write_text((ROOT / "config" / "directory.yaml").read_text())
    s = services_module.build(Settings.from_env(environ={"HOTLINE_DIRECTORY": str(directory), "REDIS_URL": redis_url,
                                                         "DATABASE_URL": database_url}))
    try:
        assert s.directory.contact("pv-new-village-leader") is None
        directory.write_text(directory.read_text() + NEW_LEADER)
        s._checked_at = 0                                        # as if the check interval had passed
        assert wait_for(lambda: s.directory.contact("pv-new-village-leader") is not None)
        assert s.config_problems == []

        directory.write_text(directory.read_text().replace('phone: "+85512000077"', 'phone: "not a phone"'))
        s._checked_at = 0
        s.directory  # noqa: B018 - looking starts the reload
        assert wait_for(lambda: s.config_problems)
        assert any("not a phone number" in p.message and p.line for p in s.config_problems)
        assert s.directory.contact("pv-new-village-leader").phone == "+85512000077"   # the good one stays
    finally:
        s.close()
