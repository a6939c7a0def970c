#!/bin/sh
# One-shot (temporalio/admin-tools): once the server answers, makes sure the
# namespace exists and carries every search attribute Sentinel sets
# (SENTINEL_SEARCH_ATTRIBUTES: "Name=Type" words). Idempotent.
set -eu
: "${TEMPORAL_ADDRESS:?}" "${SENTINEL_NAMESPACE:?}" "${SENTINEL_NAMESPACE_RETENTION:?}" "${SENTINEL_SEARCH_ATTRIBUTES:?}"

attempt=0
until temporal operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; do
  attempt=$((attempt + 1))
  [ "$attempt" -lt 60 ] || { echo "setup-namespace: Temporal at $TEMPORAL_ADDRESS did not become healthy"; exit 1; }
  sleep 2
done

if temporal operator namespace describe --address "$TEMPORAL_ADDRESS" --namespace "$SENTINEL_NAMESPACE" >/dev/null 2>&1; then
  echo "setup-namespace: namespace $SENTINEL_NAMESPACE exists"
else
  temporal operator namespace create --address "$TEMPORAL_ADDRESS" --namespace "$SENTINEL_NAMESPACE" --retention "$SENTINEL_NAMESPACE_RETENTION"
fi

existing="$(temporal operator search-attribute list --address "$TEMPORAL_ADDRESS" --namespace "$SENTINEL_NAMESPACE")"
for pair in $SENTINEL_SEARCH_ATTRIBUTES; do
  name="${pair%%=*}" type="${pair#*=}"
  if printf '%s\n' "$existing" | grep -qw "$name"; then
    echo "setup-namespace: search attribute $name exists"
  else
    temporal operator search-attribute create --address "$TEMPORAL_ADDRESS" --namespace "$SENTINEL_NAMESPACE" --name "$name" --type "$type"
  fi
done
echo "setup-namespace: done"
