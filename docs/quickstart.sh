#!/usr/bin/env bash
# Assent in five minutes: a third party creates a user, the user's "phone"
# (here the device agent, approving automatically) enrolls, a record is
# sealed with the phone's approval, opened again with a second approval,
# downloaded to another file and checked against the upload.
#
# Needs bash, curl and jq (apt-get install curl jq), and a server running:
#
#   go build -o assent ./cmd/assent
#   ./assent serve --data-dir ./assent-data        # in another terminal
#   bash docs/quickstart.sh
#
# Settings (environment): ASSENT (the binary, default ./assent), ASSENT_URL
# (default http://127.0.0.1:8080), ASSENT_DATA_DIR (the server's data
# directory, default ./assent-data), WORK (where the device keystore and the
# files go, default a new temporary directory).
set -euo pipefail

ASSENT=${ASSENT:-./assent}
URL=${ASSENT_URL:-http://127.0.0.1:8080}
DATA=${ASSENT_DATA_DIR:-./assent-data}
WORK=${WORK:-$(mktemp -d)}
mkdir -p "$WORK"
echo "working in $WORK"

# 1. The third party's API key, printed once by the admin command (which
#    opens the server's store directly, so it runs where the data is).
KEY=$("$ASSENT" admin client create --data-dir "$DATA" --name clinic \
        --scopes users:admin,records:write,records:access 2>/dev/null | sed -n 's/^api_key: //p')
api() { curl -fsS -H "Authorization: Bearer $KEY" "$@"; }

# 2. A user, with a single-use enrollment code for the user's phone.
USER_JSON=$(api -H 'Content-Type: application/json' \
        -d "{\"external_id\":\"patient-$(date +%s)-$RANDOM\",\"display_name\":\"Ada\"}" "$URL/v1/users")
USER_ID=$(jq -r .user_id <<<"$USER_JSON")
CODE=$(jq -r .enrollment_code <<<"$USER_JSON")
echo "user $USER_ID"

# 3. The phone: a passphrase file only its owner can read, enrollment, and
#    the agent answering requests (--auto-approve is for scripts: a real
#    phone asks the user).
(umask 077; head -c 32 /dev/urandom | base64 >"$WORK/passphrase")
DEVICE=(--keystore "$WORK/device.key" --passphrase-file "$WORK/passphrase")
ASSENT_ENROLLMENT_CODE=$CODE "$ASSENT" device enroll --server "$URL" --name "Ada's phone" "${DEVICE[@]}"
"$ASSENT" device run --auto-approve "${DEVICE[@]}" >"$WORK/device.log" 2>&1 &
AGENT=$!
trap 'kill $AGENT 2>/dev/null || true; wait $AGENT 2>/dev/null || true' EXIT

# 4. Seal a record: create it, stream its content, wait for the approval.
head -c 1048576 /dev/urandom >"$WORK/scan.dcm"
RID=$(api -H 'Content-Type: application/json' -d '{"title":"MRI","content_type":"application/dicom","purpose":"storage"}' \
        "$URL/v1/users/$USER_ID/records" | jq -r .record_id)
api -T "$WORK/scan.dcm" -H 'Content-Type: application/octet-stream' "$URL/v1/records/$RID/content" | jq -c .
api "$URL/v1/records/$RID?wait=30" | jq -e '.state == "sealed"' >/dev/null
echo "record $RID sealed"

# 5. Open it: ask for access, wait for the approval, download to another file.
SID=$(api -H 'Content-Type: application/json' -d '{"purpose":"second opinion"}' \
        "$URL/v1/records/$RID/access" | jq -r .session_id)
api "$URL/v1/sessions/$SID?wait=30" | jq -e '.state == "open"' >/dev/null
api -D "$WORK/headers" -o "$WORK/scan.out.dcm" "$URL/v1/sessions/$SID/content"

# 6. Check: the download equals the upload, and both match the SHA-256 the
#    phone approved (the Repr-Digest header, RFC 9530).
up=$(sha256sum "$WORK/scan.dcm" | cut -c1-64)
down=$(sha256sum "$WORK/scan.out.dcm" | cut -c1-64)
digest=$(tr -d '\r' <"$WORK/headers" | sed -n 's/^[Rr]epr-[Dd]igest: sha-256=:\(.*\):$/\1/p')
approved=$(printf "$(sed 's/../\\x&/g' <<<"$up")" | base64)
if [ "$up" != "$down" ] || [ "$digest" != "$approved" ]; then
  echo "MISMATCH: upload $up, download $down, Repr-Digest $digest" >&2
  exit 1
fi
echo "downloaded $SID: SHA-256 $down, as uploaded and approved"
