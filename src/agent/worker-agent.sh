#!/bin/sh
# worker-fleet agent: heartbeats to the fleet bucket, the two-minute spot notice, a planned drain request (the
# worker's drain tag, read through instance metadata), and the drain hook, run once for either.
# POSIX sh + curl (>= 7.75, for --aws-sigv4) + coreutils. Credentials come from the instance profile through
# IMDSv2 only; nothing secret is ever written to disk or put on a command line (curl reads them on stdin).
# Settings: /etc/worker-fleet/agent.env (see WF_* below).
set -u

[ -r "${WF_ENV_FILE:-/etc/worker-fleet/agent.env}" ] && . "${WF_ENV_FILE:-/etc/worker-fleet/agent.env}"
: "${WF_BUCKET:?WF_BUCKET is required}" "${WF_REGION:?WF_REGION is required}" "${WF_ROLE_ID:?WF_ROLE_ID is required}"
IMDS="${WF_IMDS_ENDPOINT:-http://169.254.169.254}"
S3="${WF_S3_ENDPOINT:-https://${WF_BUCKET}.s3.${WF_REGION}.amazonaws.com}"
HEARTBEAT_SECONDS="${WF_HEARTBEAT_SECONDS:-60}"
POLL_SECONDS="${WF_POLL_SECONDS:-5}"
DRAIN_TIMEOUT="${WF_DRAIN_TIMEOUT_SECONDS:-90}"
PLANNED_DRAIN_TIMEOUT="${WF_PLANNED_DRAIN_TIMEOUT_SECONDS:-540}"
# The tag the reaper sets, with its time, when it retires this worker (instance tags in metadata are on at launch).
DRAIN_TAG='worker-fleet:drain-requested-at'
# A busy command has 10 s to answer, and never more than a heartbeat interval.
BUSY_TIMEOUT=10
[ "$HEARTBEAT_SECONDS" -lt "$BUSY_TIMEOUT" ] && BUSY_TIMEOUT=$HEARTBEAT_SECONDS
# Exit status for a setting or a tool the agent cannot work with: the systemd unit does not restart on it.
UNUSABLE=78

token='' token_at=0 key_id='' secret='' session='' creds_until=0 running=1 draining=0 drained=0 noticed=0 rebalanced=0
imds_wait=2 beat_pid='' last_beat=0

log() { printf '%s worker-fleet-agent %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >>"${WF_LOG_FILE:-/dev/stderr}"; }
now() { date +%s; }

# With the instance id, the role id names the worker's keys as IAM sees the worker (${aws:userid}): an IAM role
# id is letters and digits only.
case "$WF_ROLE_ID" in *[!A-Za-z0-9]*)
  log "WF_ROLE_ID is not an IAM role id: $WF_ROLE_ID; stopping"
  exit "$UNUSABLE" ;;
esac
if ! curl --aws-sigv4 "aws:amz:${WF_REGION}:s3" --version >/dev/null 2>&1; then
  found=$(curl --version 2>/dev/null | head -n 1)
  log "curl cannot sign requests: --aws-sigv4 needs curl 7.75 or later, found ${found:-no curl}; stopping"
  exit "$UNUSABLE"
fi

# A metadata answer that did not come in time: the next ones may take twice as long (up to 10 s), so a slow
# metadata service delays the agent and never stops it.
imds_slower() { [ "$imds_wait" -lt 5 ] && imds_wait=$((imds_wait * 2)) || imds_wait=10; }

# IMDSv2: a session token first, then every request carries it; a refused token is renewed once. The body is
# left in REPLY (no subshell, so the token stays cached for the next call).
imds_token() {
  token=$(curl -sf -m "$imds_wait" -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600' "$IMDS/latest/api/token") ||
    { token=''; imds_slower; }
  token_at=$(now)
}
imds() {
  [ -n "$token" ] && [ $(($(now) - token_at)) -lt 21000 ] || imds_token
  [ -n "$token" ] || return 2
  answer=$(curl -s -m "$imds_wait" -w '\n%{http_code}' -H "X-aws-ec2-metadata-token: $token" "$IMDS/latest/$1") ||
    { imds_slower; return 2; }
  code=${answer##*
}
  REPLY=${answer%
*}
  if [ "$code" = 401 ] && [ "${2:-}" != renewed ]; then token=''; imds "$1" renewed; return; fi
  [ "$code" = 200 ]
}

json_field() { printf '%s' "$1" | tr -d '\n' | sed -n "s/.*\"$2\"[[:space:]]*:[[:space:]]*\"\([^\"]*\)\".*/\1/p"; }

# The instance profile's temporary credentials, renewed five minutes before they expire.
credentials() {
  [ -n "$key_id" ] && [ "$(now)" -lt "$creds_until" ] && return 0
  key_id=''
  imds meta-data/iam/security-credentials/ || return 1
  imds "meta-data/iam/security-credentials/${REPLY%%
*}" || return 1
  doc=$REPLY
  secret=$(json_field "$doc" SecretAccessKey) session=$(json_field "$doc" Token)
  # They travel in curl's config, inside double quotes: a quote or a backslash would end them there.
  case "$secret$session" in *[\\\"]*) log 'instance credentials hold a quote or a backslash, skipped'; return 1 ;; esac
  expires=$(date -d "$(json_field "$doc" Expiration)" +%s 2>/dev/null || echo $(($(now) + 900)))
  creds_until=$((expires - 300))
  key_id=$(json_field "$doc" AccessKeyId)
  [ -n "$key_id" ]
}

# One signed PUT; prints the HTTP status (000 when S3 did not answer in time). The key and the secret reach curl
# on stdin, as its config: a command line is readable by every process on the box.
s3_put() {
  curl -s -K - --connect-timeout 2 -m 5 -o /dev/null -w '%{http_code}' -X PUT --data-raw "$2" \
    --aws-sigv4 "aws:amz:${WF_REGION}:s3" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
    -H 'content-type: text/plain' "$S3/$(printf '%s' "$1" | sed 's/:/%3A/g')" <<EOF
user = "${key_id}:${secret}"
header = "x-amz-security-token: ${session}"
EOF
}

# PUT an object to the fleet bucket, signed with the instance profile: short timeouts, one retry, never fatal.
# The `:` of a worker id goes as %3A, as S3 encodes it in the canonical request it checks the signature against.
put_object() {
  for attempt in 1 2; do
    if credentials; then
      code=$(s3_put "$1" "$2")
      [ "$code" = 200 ] && return 0
      [ "$code" = 403 ] && key_id=''
      log "put $1 failed (HTTP $code), attempt $attempt"
    else
      log "no credentials from instance metadata, attempt $attempt"
    fi
    [ "$running" = 1 ] && [ "$attempt" = 1 ] || return 1
    sleep 1
  done
  return 1
}

# busy or idle only when the workload says so plainly; anything else is alive, which the reaper never takes for
# idle. WF_BUSY_COMMAND: exit 0 busy, 1 idle, anything else (an error, past its time limit) alive. WF_BUSY_FILE:
# its first word, busy or idle in any case; any other word, an empty or missing file, alive.
workload_status() {
  if [ "$drained" = 1 ]; then echo drained
  elif [ "$draining" = 1 ]; then echo draining
  elif [ -n "${WF_BUSY_COMMAND:-}" ]; then
    timeout -k 1 "$BUSY_TIMEOUT" sh -c "$WF_BUSY_COMMAND" </dev/null >/dev/null 2>&1
    case $? in 0) echo busy ;; 1) echo idle ;; *) echo alive ;; esac
  elif [ -n "${WF_BUSY_FILE:-}" ]; then
    text=$(timeout 2 head -c 64 -- "$WF_BUSY_FILE" 2>/dev/null)
    set -f
    # shellcheck disable=SC2086 # split into words on purpose
    set -- $text
    set +f
    case "${1:-}" in [Bb][Uu][Ss][Yy]) echo busy ;; [Ii][Dd][Ll][Ee]) echo idle ;; *) echo alive ;; esac
  else echo alive
  fi
}

send_heartbeat() { put_object "heartbeats/$worker_id" "$(workload_status)"; }

# A heartbeat runs in the background, one at a time: a slow busy signal or an S3 that does not answer never holds
# up the polling loop. Credentials are renewed here first, so the background job inherits fresh ones.
heartbeat() {
  if [ -n "$beat_pid" ]; then
    kill -0 "$beat_pid" 2>/dev/null && return
    wait "$beat_pid"
  fi
  last_beat=$(now)
  credentials
  send_heartbeat &
  beat_pid=$!
}

# The drain hook, once for the worker's life, in the background, within its limit ($1 seconds). When it ends (or
# at once without a hook) a marker in the agent's private directory says so, and the heartbeats say drained.
start_drain() {
  [ "$draining" = 1 ] && return 1
  draining=1
  if [ -n "${WF_DRAIN_COMMAND:-}" ]; then
    (
      timeout -k 5 "$1" sh -c "$WF_DRAIN_COMMAND" </dev/null
      log "drain hook finished with exit code $?"
      : >"$private/drained"
    ) &
    log "drain hook started (limit ${1}s)"
  else
    : >"$private/drained"
  fi
  last_beat=0
}

# Drained once the hook's marker is there: the next heartbeat, at once, says so.
check_drained() {
  [ "$draining" = 1 ] && [ "$drained" = 0 ] && [ -e "$private/drained" ] || return 0
  drained=1
  last_beat=0
  log 'drained'
}

# The two-minute notice: the drain hook starts first, in the background, whatever S3 does; the report and the
# draining heartbeat follow.
on_spot_notice() {
  [ "$noticed" = 1 ] && return
  noticed=1
  # A planned drain already running keeps its hook: the notice is still reported.
  start_drain "$DRAIN_TIMEOUT"
  log "spot interruption notice: $1"
  credentials
  put_object "notices/$worker_id/spot" "$1" &
}

# A planned drain (the reaper retires this worker): the same hook, once, with the planned drain's limit.
on_drain_request() {
  start_drain "$PLANNED_DRAIN_TIMEOUT" || return
  log "drain requested at $1"
}

on_rebalance() {
  [ "$rebalanced" = 1 ] && return
  rebalanced=1
  log "rebalance recommendation: $1"
  credentials
  put_object "notices/$worker_id/rebalance" "$1" &
}

# The drain hook's marker lives in a directory only this agent can write (mktemp -d makes it 0700).
private=$(mktemp -d 2>/dev/null) || {
  log 'no private directory for the drain marker (mktemp -d failed); stopping'
  exit "$UNUSABLE"
}
trap 'rm -rf "$private"' EXIT
trap 'running=0; log "stopping on SIGTERM"; kill "$sleeper" 2>/dev/null' TERM INT
sleeper=''

pause=1
until imds meta-data/instance-id; do
  log "instance metadata unavailable, retrying in ${pause}s (answers may take ${imds_wait}s)"
  sleep "$pause" & sleeper=$!; wait "$sleeper"
  [ "$running" = 1 ] || exit 0
  [ "$pause" -lt 16 ] && pause=$((pause * 2))
done
instance_id=$REPLY
worker_id="${WF_ROLE_ID}:${instance_id}"
log "started on $instance_id, heartbeat every ${HEARTBEAT_SECONDS}s to s3://$WF_BUCKET/heartbeats/$worker_id"
while [ "$running" = 1 ]; do
  imds meta-data/spot/instance-action && on_spot_notice "$REPLY"
  imds meta-data/events/recommendations/rebalance && on_rebalance "$REPLY"
  [ "$draining" = 1 ] || { imds "meta-data/tags/instance/$DRAIN_TAG" && [ -n "$REPLY" ] && on_drain_request "$REPLY"; }
  check_drained
  [ $(($(now) - last_beat)) -ge "$HEARTBEAT_SECONDS" ] && heartbeat
  [ "$running" = 1 ] || break
  sleep "$POLL_SECONDS" & sleeper=$!
  wait "$sleeper"
done
log 'stopped'
