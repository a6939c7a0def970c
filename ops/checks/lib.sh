# Shared helpers of the check plan. Prepended to every check script, so each
# script runs the same way through SSM Run Command and the local executor.
# POSIX sh: hosts run these with /bin/sh (dash on Ubuntu).
#
# Contract: a check prints whatever it likes to stderr, and its LAST stdout
# line is one JSON object: {"check":..., "ok":true|false, ...}. Stdout stays
# small because SSM keeps only its first 24,000 characters.

# json_str VALUE: VALUE as a JSON string (control characters dropped, quotes and backslashes escaped).
json_str() {
  printf '"%s"' "$(printf '%s' "$1" | tr '\n\r\t' '   ' | tr -d '\000-\037' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
}

# json_num VALUE: VALUE if it is a plain number, else null.
json_num() {
  case "$1" in
    '' | *[!0-9.]*) printf 'null' ;;
    *) printf '%s' "$1" ;;
  esac
}

# fail CODE DETAIL: print a failed result and stop the check.
fail() {
  printf '{"check":%s,"ok":false,"code":%s,"detail":%s}\n' "$(json_str "$CHECK")" "$(json_str "$1")" "$(json_str "$2")"
  exit 0
}

# trim TEXT: TEXT without leading and trailing blanks.
trim() {
  printf '%s' "$1" | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//'
}

# first_lines TEXT: the first three lines of TEXT, for failure details.
first_lines() {
  printf '%s\n' "$1" | head -n 3
}

# elapsed_ms START_NS: milliseconds since START_NS (from `now_ns`).
now_ns() { date +%s%N; }
elapsed_ms() { echo $(( ($(now_ns) - $1) / 1000000 )); }

# Root of the host's filesystem for device checks: / on a real host; a simulated host's root otherwise.
HOST_ROOT="${RADIX_HOST_ROOT:-}"

# load_secrets CODE: sets the check's secrets (one line of NAME='value' assignments). They reach the
# host outside the command's text (which SSM keeps in its command history) and never on a command
# line: through SSM, a SecureString parameter (RADIX_SECRETS_PARAMETER) this host reads with its
# instance role, into a shell variable; with the local executor, a file only this user can read
# (RADIX_SECRETS_FILE), removed once read. Fails the check with CODE when they cannot be read.
load_secrets() {
  if [ -n "${RADIX_SECRETS_PARAMETER:-}" ]; then
    command -v aws >/dev/null 2>&1 || fail "$1" "the AWS CLI is not on PATH: this host reads the check's secrets from SSM parameter $RADIX_SECRETS_PARAMETER with it"
    radix_secrets=$(aws ssm get-parameter --region "$RADIX_SECRETS_REGION" --name "$RADIX_SECRETS_PARAMETER" --with-decryption --query Parameter.Value --output text 2>&1) ||
      fail "$1" "could not read SSM parameter $RADIX_SECRETS_PARAMETER: $(printf '%s\n' "$radix_secrets" | tail -n 1)"
    eval "$radix_secrets"
    unset radix_secrets
  elif [ -n "${RADIX_SECRETS_FILE:-}" ]; then
    [ -r "$RADIX_SECRETS_FILE" ] || fail "$1" "the secrets file $RADIX_SECRETS_FILE is missing"
    . "$RADIX_SECRETS_FILE"
    rm -f "$RADIX_SECRETS_FILE"
  fi
}
