"""The backup and the restore drill (README, Operations): scripts/backup.sh dumps this test's database and copies the
recordings, scripts/restore.sh puts them into a new database and a fresh media folder; every table has the same rows
and every recording the same bytes. Runs the real pg_dump/pg_restore against the real PostgreSQL."""

import hashlib
import os
import subprocess
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from calls.models import Call, CallStatus
from calls.tests.factories import CallFactory, transcribed_call_from_fixture
from companies.tests.factories import CompanyFactory

ROOT = Path(__file__).resolve().parents[1]
RECORDING = ROOT / "fixtures" / "calls" / "en-02-complaint.stereo8k.mp3"


def _url(name: str) -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


def _table_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            ).fetchall()
        ]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}  # noqa: S608 - catalog names


def _tree(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def restored_name():
    name = f"{connection.settings_dict['NAME']}_restored"
    admin = _url("postgres").replace("postgres://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    yield name
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.django_db(transaction=True)  # pg_dump reads committed rows only
def test_backup_then_restore_into_a_new_database_keeps_every_row_and_recording(tmp_path, restored_name):
    media = tmp_path / "media"
    companies = [CompanyFactory(slug="alpha"), CompanyFactory(slug="bravo")]
    for company in companies:
        call = transcribed_call_from_fixture(company, "en-02-complaint")  # utterances, a transcript, an operator
        stored = media / call.recording.name
        stored.parent.mkdir(parents=True, exist_ok=True)
        stored.write_bytes(RECORDING.read_bytes())
        CallFactory.create_batch(2, company=company, status=CallStatus.NEW)
    (media / "exports").mkdir()  # not part of the backup: short-lived files
    (media / "exports" / "x.csv").write_text("a,b\n")
    source = _url(connection.settings_dict["NAME"])
    env = {**os.environ, "DATABASE_URL": source, "DJANGO_MEDIA_ROOT": str(media), "STORAGE": "local"}

    backup = _run("bash", "scripts/backup.sh", str(tmp_path / "backups"), env=env)
    assert backup.returncode == 0, backup.stderr
    backup_dir = Path(backup.stdout.strip().splitlines()[-1])
    assert (backup_dir / "db.dump").stat().st_size > 0
    assert "media_files=2" in (backup_dir / "MANIFEST").read_text()

    target = _url(restored_name)
    restored_media = tmp_path / "restored-media"
    restore = _run("bash", "scripts/restore.sh", str(backup_dir), target, str(restored_media), env=env)
    assert restore.returncode == 0, restore.stderr

    counts = _table_counts(source)
    assert counts["calls_call"] == Call.objects.count() == 6 and counts["calls_utterance"] > 0
    assert _table_counts(target) == counts
    assert _tree(restored_media) == {f"recordings/{k}": v for k, v in _tree(media / "recordings").items()}

    # The drill never overwrites: the same target again is refused and the restored data stays.
    again = _run("bash", "scripts/restore.sh", str(backup_dir), target, str(tmp_path / "other-media"), env=env)
    assert again.returncode != 0 and "already exists" in again.stderr
    assert _table_counts(target) == counts


@pytest.mark.django_db
def test_restore_refuses_a_damaged_backup_before_creating_anything(tmp_path, restored_name):
    backup_dir = tmp_path / "dialix-x"
    (backup_dir / "media" / "recordings").mkdir(parents=True)
    (backup_dir / "media" / "recordings" / "a.mp3").write_bytes(b"audio")
    (backup_dir / "SHA256SUMS").write_text(f"{hashlib.sha256(b'other').hexdigest()}  media/recordings/a.mp3\n")
    (backup_dir / "db.dump").write_bytes(b"not a dump")

    result = _run("bash", "scripts/restore.sh", str(backup_dir), _url(restored_name), env=dict(os.environ))

    assert result.returncode != 0 and "do not match their checksums; nothing was restored" in result.stderr
    admin = _url("postgres").replace("postgres://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [restored_name]).fetchone()
    assert exists is None
