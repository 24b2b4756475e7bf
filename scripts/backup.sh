#!/usr/bin/env bash
# Backup of one Dialix installation: the PostgreSQL database (pg_dump custom format) and the call recordings
# (a copy of MEDIA_ROOT/recordings), with checksums. Restore and the drill: scripts/restore.sh, README "Operations".
#
#   DATABASE_URL=postgres://user@host:5432/dialix DJANGO_MEDIA_ROOT=/srv/dialix/media scripts/backup.sh /backups
#
# Writes /backups/dialix-<UTC time>/ with db.dump, media/recordings/..., SHA256SUMS and MANIFEST, and prints its path
# as the last line. The dump is one consistent snapshot (pg_dump runs in a single repeatable-read transaction) and the
# site stays up meanwhile. Recordings are copied after the dump: a recording stored later is an extra file (harmless);
# one deleted by retention in between is missing, and so would its row be a moment later.
# Recordings in Google Cloud Storage (STORAGE=gcs) are not copied here: the bucket keeps them (object versioning, or
# `gcloud storage rsync -r gs://<bucket>/recordings <dir>`); the script says so and backs up the database.
set -euo pipefail

usage() { echo "usage: DATABASE_URL=postgres://... [DJANGO_MEDIA_ROOT=dir] $0 DEST_DIR" >&2; exit 2; }
[[ $# -eq 1 ]] || usage
dest_root=$1
: "${DATABASE_URL:?DATABASE_URL is required (postgres://user[:password]@host:port/name)}"
# django-environ also accepts psql:// and pgsql://; libpq only postgres:// and postgresql://.
db_url=$(sed -E 's#^(psql|pgsql|postgis)://#postgresql://#' <<<"$DATABASE_URL")
case $db_url in postgres://*|postgresql://*) ;; *) echo "backup.sh: DATABASE_URL is not PostgreSQL" >&2; exit 2 ;; esac
here=$(cd "$(dirname "$0")/.." && pwd)
media_root=${DJANGO_MEDIA_ROOT:-${DIALIX_VAR_DIR:-$here/var}/media}

stamp=$(date -u +%Y%m%dT%H%M%SZ)
dest="$dest_root/dialix-$stamp"
mkdir -p "$dest.partial"
trap 'rm -rf "$dest.partial"' ERR  # a failed backup leaves no directory that looks complete

# --no-owner/--no-privileges: the restore may run as another role on another server.
pg_dump --format=custom --compress=6 --no-owner --no-privileges --file="$dest.partial/db.dump" --dbname="$db_url"

mkdir -p "$dest.partial/media"
if [[ "${STORAGE:-local}" == "gcs" ]]; then
    echo "backup.sh: STORAGE=gcs, recordings stay in the bucket (see README, Operations)" >&2
elif [[ -d "$media_root/recordings" ]]; then
    cp -a "$media_root/recordings" "$dest.partial/media/"
fi
(cd "$dest.partial" && find media -type f -print0 | sort -z | xargs -0 -r sha256sum >SHA256SUMS)

{
    echo "created_at=$stamp"
    echo "database=$(sed -E 's#//([^:@/]+):[^@/]*@#//\1@#' <<<"$db_url")"  # never the password
    echo "pg_dump=$(pg_dump --version)"
    echo "media_files=$(wc -l <"$dest.partial/SHA256SUMS")"
    echo "dump_bytes=$(stat -c %s "$dest.partial/db.dump")"
} >"$dest.partial/MANIFEST"
mv "$dest.partial" "$dest"
trap - ERR
echo "$dest"
