#!/usr/bin/env bash
# Restores a backup made by scripts/backup.sh into a NEW database (never over an existing one) and, optionally, its
# recordings into a media folder; then checks the files against the backup's checksums.
#
#   scripts/restore.sh /backups/dialix-20261202T010000Z postgres://user@host:5432/dialix_restored [/srv/media-new]
#
# The new database is created here (it must not exist yet: an existing database is refused, so a typo cannot
# overwrite production). The target media folder must be empty or absent. Point DATABASE_URL and DJANGO_MEDIA_ROOT
# at them, run `manage.py migrate` (a no-op unless the code is newer than the backup), and start the site.
set -euo pipefail

usage() { echo "usage: $0 BACKUP_DIR NEW_DATABASE_URL [MEDIA_ROOT]" >&2; exit 2; }
[[ $# -eq 2 || $# -eq 3 ]] || usage
backup=$1
target=$(sed -E 's#^(psql|pgsql|postgis)://#postgresql://#' <<<"$2")
media_target=${3:-}
[[ -f "$backup/db.dump" && -f "$backup/SHA256SUMS" ]] || { echo "restore.sh: $backup is not a backup" >&2; exit 2; }

# Split the URL into the new database's name and a URL of the server's maintenance database (to create it from).
read -r db_name admin_url < <(python3 - "$target" <<'PY'
import sys
from urllib.parse import unquote, urlsplit, urlunsplit
url = urlsplit(sys.argv[1])
if url.scheme not in ("postgres", "postgresql") or not url.path.strip("/"):
    sys.exit("restore.sh: NEW_DATABASE_URL must be postgres://user@host:port/name")
print(unquote(url.path.strip("/")), urlunsplit(url._replace(path="/postgres")))
PY
)

# Checksums first: a damaged backup stops here, before anything is created.
if [[ -s "$backup/SHA256SUMS" ]] && ! (cd "$backup" && sha256sum --quiet --check SHA256SUMS); then
    echo "restore.sh: files in $backup do not match their checksums; nothing was restored" >&2
    exit 1
fi
pg_restore --list "$backup/db.dump" >/dev/null

if [[ -n "$media_target" && -e "$media_target/recordings" ]] && [[ -n "$(ls -A "$media_target/recordings")" ]]; then
    echo "restore.sh: $media_target/recordings is not empty; restore recordings into a fresh folder" >&2
    exit 1
fi

createdb --maintenance-db="$admin_url" "$db_name"  # fails if it exists: never restore over a live database
pg_restore --no-owner --no-privileges --exit-on-error --jobs="${RESTORE_JOBS:-2}" --dbname="$target" "$backup/db.dump"

if [[ -n "$media_target" ]]; then
    mkdir -p "$media_target"
    if [[ -d "$backup/media/recordings" ]]; then
        cp -a "$backup/media/recordings" "$media_target/"
    fi
    # The restored copy, checked against the checksums taken at backup time.
    if [[ -s "$backup/SHA256SUMS" ]]; then
        (cd "$media_target" && sed 's#  media/#  #' "$backup/SHA256SUMS" | sha256sum --quiet --check -)
    fi
fi
echo "restored $backup into database $db_name${media_target:+ and $media_target}"
