# Installer: fetch the control plane's installer for this cluster and run it,
# exactly as a customer does (`curl -fsSL <url> | sh`), but keeping the script
# and its exit status so a failure can be told apart.
# Secrets (load_secrets, lib.sh): RADIX_INSTALLER_URL (a candidate's URL carries its grant) and
# RADIX_ONBOARDING_TOKEN (single-use). Neither is in this script's text nor ever printed, and curl
# gets both on stdin as its config, so no command line (ps, /proc/*/cmdline) shows them.
CHECK=installer

load_secrets INSTALLER_DOWNLOAD_FAILED
[ -n "${RADIX_INSTALLER_URL:-}" ] && [ -n "${RADIX_ONBOARDING_TOKEN:-}" ] || fail INSTALLER_DOWNLOAD_FAILED "the installer URL and onboarding token did not reach the host"
case "$RADIX_INSTALLER_URL$RADIX_ONBOARDING_TOKEN" in
  *'"'* | *'\'*) fail INSTALLER_DOWNLOAD_FAILED "the installer URL or onboarding token holds a quote or backslash" ;;
esac
command -v curl >/dev/null 2>&1 || fail INSTALLER_DOWNLOAD_FAILED "curl is not on PATH"
dir=$(mktemp -d "${RADIX_HOST_WORKDIR:-${TMPDIR:-/tmp}}/radix-installer.XXXXXX")
started_ms=$(($(now_ns) / 1000000))
status=0
# printf is the shell's builtin: the values never become a process's arguments.
http=$(printf 'url = "%s"\nheader = "X-Radix-Onboarding-Token: %s"\n' "$RADIX_INSTALLER_URL" "$RADIX_ONBOARDING_TOKEN" |
  curl -sS --max-time 60 --retry 2 --config - -o "$dir/install.sh" -w '%{http_code}' 2>"$dir/curl.err") || status=$?
if [ "$status" -ne 0 ]; then fail INSTALLER_DOWNLOAD_FAILED "curl exit $status: $(tail -n 1 "$dir/curl.err")"; fi
case "$(head -c 2 "$dir/install.sh")" in
  '#!') ;;
  *) fail INSTALLER_DOWNLOAD_FAILED "HTTP $http without an installer script: $(head -c 200 "$dir/install.sh")" ;;
esac

# The installer's own messages go to stderr; its exit status says what went wrong.
exit_code=0
sh "$dir/install.sh" >"$dir/install.out" 2>"$dir/install.err" || exit_code=$?
# The served script embeds the (now spent) onboarding token: it does not stay on the disk.
rm -f "$dir/install.sh"
duration_ms=$(( $(now_ns) / 1000000 - started_ms ))
cat "$dir/install.err" >&2
# The installer's own result line (what it installed) travels inside ours, as a string.
printf '{"check":"installer","ok":true,"exitCode":%s,"httpStatus":%s,"startedAtMs":%s,"durationMs":%s,"stderr":%s,"result":%s}\n' \
  "$exit_code" "$(json_num "$http")" "$started_ms" "$duration_ms" "$(json_str "$(tail -n 5 "$dir/install.err")")" "$(json_str "$(tail -n 1 "$dir/install.out")")"
