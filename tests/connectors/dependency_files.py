"""Configuration that uses opsuser's password, planted on an etc_host (tests/connectors/etc_host.py): its crontab,
a cron.d line and a systemd unit running as it, a .pgpass with the old password, a .my.cnf without it, and under
a declared folder a JDBC properties file with the old password (percent-encoded), a YAML with it (the tests
change it by hand) and files that must not be listed (another user's, a comment)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from tests.connectors.etc_host import OLD_PW, Host


@dataclass
class Planted:
    crontab: Path
    cron_d: Path
    unit: Path
    pgpass: Path
    my_cnf: Path
    declared: Path  # the folder the plan declares
    properties: Path
    yml: Path
    others: list[Path]  # must not be listed


def plant(host: Host) -> Planted:
    home = host.root / "home/opsuser"
    crontab = host.root / "spool/cron/crontabs/opsuser"
    crontab.write_text("*/5 * * * * /opt/app/bin/sync.sh\n")
    cron_d = host.root / "etc/cron.d/app-backup"
    cron_d.write_text("MAILTO=root\n30 2 * * * opsuser /opt/app/bin/backup.sh\n")
    others = [host.root / "etc/cron.d/other-job"]
    others[0].write_text("# 0 1 * * * opsuser not-this-one\n15 3 * * * daemon /bin/true opsuser\n")
    unit = host.root / "etc/systemd/system/app-worker.service"
    unit.write_text("[Service]\nUser=opsuser\nExecStart=/opt/app/bin/worker\n")
    others.append(host.root / "etc/systemd/system/other.service")
    others[-1].write_text("[Service]\nUser=opsuser2\nExecStart=/bin/true\n")
    pgpass = home / ".pgpass"
    pgpass.write_text(f"db.internal:5432:app:opsuser:{OLD_PW}\n")
    my_cnf = home / ".my.cnf"
    my_cnf.write_text("[client]\nuser=opsuser\npassword=Another-db-secret-1\n")
    declared = host.root / "opt/app"
    (declared / "conf/sub").mkdir(parents=True, exist_ok=True)
    properties = declared / "conf/app.properties"
    properties.write_text(
        "spring.datasource.url=jdbc:postgresql://db.internal:5432/app"
        f"?user=opsuser&password={quote(OLD_PW, safe='')}\n"
    )
    yml = declared / "conf/sub/app.yml"
    yml.write_text(f"datasource:\n  username: opsuser\n  password: '{OLD_PW}'\n")  # a person changes it
    others.append(declared / "conf/other.properties")
    others[-1].write_text("db.username=appuser\ndb.password=x\n")
    others.append(declared / "conf/notes.txt")  # not a configuration name
    others[-1].write_text("user=opsuser\n")
    return Planted(crontab, cron_d, unit, pgpass, my_cnf, declared, properties, yml, others)
