#!/bin/sh
# worker-fleet agent: heartbeats to the fleet bucket, the two-minute spot notice, and the drain hook.
# POSIX sh + curl (>= 7.75, for --aws-sigv4) + coreutils. Credentials come from the instance profile through
# IMDSv2 only; nothing secret is ever written to disk. Settings: /etc/worker-fleet/agent.env (see WF_* below).
set -u

[ -r "${WF_ENV_FILE:-/etc/worker-fleet/agent.env}" ] && . "${WF_ENV_FILE:-/etc/worker-fleet/agent.env}"
: "${WF_BUCKET:?WF_BUCKET is required}" "${WF_REGION:?WF_REGION is required}"
IMDS="${WF_IMDS_ENDPOINT:-http://169.254.169.254}"
S3="${WF_S3_ENDPOINT:-https://${WF_BUCKET}.s3.${WF_REGION}.amazonaws.com}"
HEARTBEAT_SECONDS="${WF_HEARTBEAT_SECONDS:-60}"
POLL_SECONDS="${WF_POLL_SECONDS:-5}"
DRAIN_TIMEOUT="${WF_DRAIN_TIMEOUT_SECONDS:-90}"

token='' token_at=0 key_id='' secret='' session='' creds_until=0 running=1 drained=0 rebalanced=0 status=''

log() { printf '%s worker-fleet-agent %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >>"${WF_LOG_FILE:-/dev/stderr}"; }
now() { date +%s; }

# IMDSv2: a session token first, then every request carries it; a refused token is renewed once. The body is
# left in REPLY (no subshell, so the token stays cached for the next call).
imds_token() {
  token=$(curl -sf -m 2 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600' "$IMDS/latest/api/token") || token=''
  token_at=$(now)
}
imds() {
  [ -n "$token" ] && [ $(($(now) - token_at)) -lt 21000 ] || imds_token
  [ -n "$token" ] || return 2
  answer=$(curl -s -m 2 -w '\n%{http_code}' -H "X-aws-ec2-metadata-token: $token" "$IMDS/latest/$1") || return 2
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
  imds meta-data/iam/security-credentials/ || return 1
  imds "meta-data/iam/security-credentials/${REPLY%%
*}" || return 1
  doc=$REPLY
  key_id=$(json_field "$doc" AccessKeyId) secret=$(json_field "$doc" SecretAccessKey) session=$(json_field "$doc" Token)
  expires=$(date -d "$(json_field "$doc" Expiration)" +%s 2>/dev/null || echo $(($(now) + 900)))
  creds_until=$((expires - 300))
  [ -n "$key_id" ]
}

# PUT an object to the fleet bucket, signed with the instance profile; retried with backoff, never fatal.
put_object() {
  delay=1
  for attempt in 1 2 3 4; do
    if credentials; then
      code=$(printf '%s' "$2" | curl -s -m 10 -o /dev/null -w '%{http_code}' -X PUT --data-binary @- \
        --aws-sigv4 "aws:amz:${WF_REGION}:s3" --user "${key_id}:${secret}" \
        -H "x-amz-security-token: ${session}" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
        -H 'content-type: text/plain' "$S3/$1")
      [ "$code" = 200 ] && return 0
      [ "$code" = 403 ] && key_id=''
      log "put $1 failed (HTTP $code), attempt $attempt"
    else
      log "no credentials from instance metadata, attempt $attempt"
    fi
    [ "$running" = 1 ] || return 1
    sleep "$delay"; delay=$((delay * 2))
  done
  return 1
}

# busy or idle, as the workload says: WF_BUSY_COMMAND (exit 0 = busy), or WF_BUSY_FILE (its first word).
workload_status() {
  if [ "$drained" = 1 ]; then echo draining
  elif [ -n "${WF_BUSY_COMMAND:-}" ]; then
    if timeout 10 sh -c "$WF_BUSY_COMMAND" >/dev/null 2>&1; then echo busy; else echo idle; fi
  elif [ -n "${WF_BUSY_FILE:-}" ]; then
    word=$(head -c 16 "$WF_BUSY_FILE" 2>/dev/null | tr -cd 'a-z')
    case "$word" in busy|idle) echo "$word" ;; *) echo idle ;; esac
  else echo alive
  fi
}

heartbeat() {
  status=$(workload_status)
  put_object "heartbeats/$instance_id" "$status" && last_beat=$(now)
}

# The two-minute notice: report it, say draining, run the drain hook once with time to spare.
on_spot_notice() {
  [ "$drained" = 1 ] && return
  drained=1
  log "spot interruption notice: $1"
  put_object "notices/$instance_id/spot" "$1"
  heartbeat
  if [ -n "${WF_DRAIN_COMMAND:-}" ]; then
    log "drain hook started (limit ${DRAIN_TIMEOUT}s)"
    timeout "$DRAIN_TIMEOUT" sh -c "$WF_DRAIN_COMMAND"
    log "drain hook finished with exit code $?"
  fi
}

on_rebalance() {
  [ "$rebalanced" = 1 ] && return
  rebalanced=1
  log "rebalance recommendation: $1"
  put_object "notices/$instance_id/rebalance" "$1"
}

trap 'running=0; log "stopping on SIGTERM"; kill "$sleeper" 2>/dev/null' TERM INT
sleeper=''

until imds meta-data/instance-id; do
  log 'instance metadata unavailable, retrying'
  sleep 2 & sleeper=$!; wait "$sleeper"
  [ "$running" = 1 ] || exit 0
done
instance_id=$REPLY
log "started on $instance_id, heartbeat every ${HEARTBEAT_SECONDS}s to s3://$WF_BUCKET/heartbeats/$instance_id"
last_beat=0
while [ "$running" = 1 ]; do
  imds meta-data/spot/instance-action && on_spot_notice "$REPLY"
  imds meta-data/events/recommendations/rebalance && on_rebalance "$REPLY"
  [ $(($(now) - last_beat)) -ge "$HEARTBEAT_SECONDS" ] && heartbeat
  [ "$running" = 1 ] || break
  sleep "$POLL_SECONDS" & sleeper=$!
  wait "$sleeper"
done
log 'stopped'
