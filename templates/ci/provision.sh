#!/usr/bin/env bash
# iyesmp provisioning for CI: creates the PKI (or reuses the one there), issues a certificate for
# each host, scaffolds and checks the Auth and Host configs, and packs one bundle per server
# (`iyesmp bundle`) ready to copy to that machine. Never prompts; every input is an environment
# variable; exits non-zero at the first failure, saying what failed.
#
#   IYESMP_AUTH_ADDRESS        required: the DNS name or IP address of the Auth server (in its cert)
#   IYESMP_HOST_ADDRESSES      required: the address clients dial for each host, in order, separated
#                              by spaces (host-1 first); the last one is used for the hosts after it
#   IYESMP_HOST_COUNT          how many hosts, named host-1..N (default: the number of addresses)
#   IYESMP_CA_PASSPHRASE_FILE  required for a new PKI or new hosts: the file holding the Master and
#                              ClientAuth passphrase (write your CI secret to a file, mode 0600)
#   IYESMP_SESSIONAUTH_PASSPHRASE_FILE
#                              the SessionAuth key's own passphrase (another secret); unset: the
#                              SessionAuth key is kept unencrypted (0600) so Auth nodes start unattended
#   IYESMP_PKI_DIR             the PKI folder (default ./pki): reused when it holds a PKI
#   IYESMP_OUT_DIR             where configs/ and bundles/ go (default ./deploy)
#   IYESMP_SCAFFOLD            deployment files to write too, among "systemd docker compose k8s"
#                              (default: none)
#   IYESMP_CHECK_WITHIN        fail when a certificate expires within this (default 30d)
#   IYESMP_CMD                 how to run the CLI (default: iyesmp; e.g. "npx iyesmp")
#   IYESMP_INSECURE_DEV=1      development only: CA keys without a passphrase
set -euo pipefail

die() {
  echo "provision: $*" >&2
  exit 2
}
say() { echo "provision: $*" >&2; }

read -r -a IYESMP <<<"${IYESMP_CMD:-iyesmp}"
iyesmp() { "${IYESMP[@]}" "$@"; }

PKI="${IYESMP_PKI_DIR:-./pki}"
OUT="${IYESMP_OUT_DIR:-./deploy}"
AUTH="${IYESMP_AUTH_ADDRESS:-}"
[ -n "$AUTH" ] || die "IYESMP_AUTH_ADDRESS is not set (the Auth server's DNS name or IP address)"
read -r -a ADDRS <<<"${IYESMP_HOST_ADDRESSES:-}"
[ "${#ADDRS[@]}" -gt 0 ] || die "IYESMP_HOST_ADDRESSES is not set (the address clients dial for each host)"
COUNT="${IYESMP_HOST_COUNT:-${#ADDRS[@]}}"
case "$COUNT" in '' | *[!0-9]* | 0) die "IYESMP_HOST_COUNT must be a positive number, got \"$COUNT\"" ;; esac

# an IP goes into a certificate as an IP address, anything else as a DNS name
is_ip() { [[ "$1" =~ ^[0-9]+(\.[0-9]+){3}$ || "$1" == *:* ]]; }
addr_of() {
  local i=$1
  if [ "$i" -lt "${#ADDRS[@]}" ]; then echo "${ADDRS[$i]}"; else echo "${ADDRS[${#ADDRS[@]} - 1]}"; fi
}

ca_flags=()
if [ "${IYESMP_INSECURE_DEV:-}" = 1 ]; then
  ca_flags=(--insecure-no-passphrase)
elif [ -n "${IYESMP_CA_PASSPHRASE_FILE:-}" ]; then
  [ -r "$IYESMP_CA_PASSPHRASE_FILE" ] || die "IYESMP_CA_PASSPHRASE_FILE ($IYESMP_CA_PASSPHRASE_FILE) is not a readable file"
  ca_flags=(--passphrase-file "$IYESMP_CA_PASSPHRASE_FILE")
fi
sa_flags=()
if [ -n "${IYESMP_SESSIONAUTH_PASSPHRASE_FILE:-}" ]; then
  [ -r "$IYESMP_SESSIONAUTH_PASSPHRASE_FILE" ] || die "IYESMP_SESSIONAUTH_PASSPHRASE_FILE is not a readable file"
  sa_flags=(--passphrase-file "$IYESMP_SESSIONAUTH_PASSPHRASE_FILE")
fi

# 1. the PKI: reused when there is one, else created with every host at once
if [ -f "$PKI/manifest.json" ]; then
  say "reusing the PKI in $PKI"
else
  [ "${#ca_flags[@]}" -gt 0 ] || die "no PKI in $PKI and no IYESMP_CA_PASSPHRASE_FILE to create one with"
  init=(certs init --dir "$PKI" --hosts "$COUNT" ${ca_flags[@]+"${ca_flags[@]}"})
  if is_ip "$AUTH"; then init+=(--auth-ip "$AUTH"); else init+=(--auth-name "$AUTH"); fi
  for ((i = 0; i < COUNT; i++)); do
    a=$(addr_of "$i")
    if is_ip "$a"; then init+=(--host-ip "$a"); else init+=(--host-name "$a"); fi
  done
  if [ -n "${IYESMP_SESSIONAUTH_PASSPHRASE_FILE:-}" ]; then
    init+=(--sessionauth-passphrase-file "$IYESMP_SESSIONAUTH_PASSPHRASE_FILE")
  elif [ "${IYESMP_INSECURE_DEV:-}" != 1 ]; then
    init+=(--sessionauth-unencrypted)
  fi
  say "creating a PKI in $PKI"
  iyesmp "${init[@]}" >/dev/null
fi

# 2. a certificate for every host the PKI does not have yet (certs/<name>.pem, docs/pki.md)
for ((i = 0; i < COUNT; i++)); do
  name="host-$((i + 1))"
  [ -f "$PKI/certs/$name.pem" ] && continue
  [ "${#ca_flags[@]}" -gt 0 ] || die "$name needs a certificate: set IYESMP_CA_PASSPHRASE_FILE (the Master key signs it)"
  a=$(addr_of "$i")
  if is_ip "$a"; then flag=--ip; else flag=--dns; fi
  say "issuing $name ($a)"
  if [ "${IYESMP_INSECURE_DEV:-}" = 1 ]; then
    iyesmp certs issue host "$name" "$flag" "$a" --dir "$PKI" >/dev/null
  else
    iyesmp certs issue host "$name" "$flag" "$a" --dir "$PKI" --master-passphrase-file "$IYESMP_CA_PASSPHRASE_FILE" >/dev/null
  fi
done

# 3. nothing expires soon (exit 1 from certs check fails the pipeline)
iyesmp certs check --dir "$PKI" --within "${IYESMP_CHECK_WITHIN:-30d}" >/dev/null || die "a certificate in $PKI expires within ${IYESMP_CHECK_WITHIN:-30d} (iyesmp certs check --dir $PKI)"

# 4. configs, checked, and one bundle per server
mkdir -p "$OUT/configs" "$OUT/bundles"
auth_host="${AUTH}"
if [[ "$AUTH" == *:* ]]; then auth_host="[$AUTH]"; fi  # an IPv6 address takes brackets before :port
iyesmp config scaffold auth --dir "$PKI" --out "$OUT/configs/auth.toml" --force >/dev/null
iyesmp config check "$OUT/configs/auth.toml" ${sa_flags[@]+"${sa_flags[@]}"} >/dev/null
iyesmp bundle auth auth --dir "$PKI" --config "$OUT/configs/auth.toml" --out "$OUT/bundles/iyesmp-auth-auth.tar.gz" --force ${sa_flags[@]+"${sa_flags[@]}"} >/dev/null
say "bundled auth -> $OUT/bundles/iyesmp-auth-auth.tar.gz"
for ((i = 0; i < COUNT; i++)); do
  name="host-$((i + 1))"
  a=$(addr_of "$i")
  iyesmp config scaffold host --dir "$PKI" --name "$name" --public-address "$a" --auth-server "$auth_host:7351" \
    --out "$OUT/configs/$name.toml" --force >/dev/null
  iyesmp config check "$OUT/configs/$name.toml" >/dev/null
  iyesmp bundle host "$name" --dir "$PKI" --config "$OUT/configs/$name.toml" --out "$OUT/bundles/iyesmp-host-$name.tar.gz" --force >/dev/null
  say "bundled $name ($a) -> $OUT/bundles/iyesmp-host-$name.tar.gz"
done

# 5. deployment files, if asked for
for kind in ${IYESMP_SCAFFOLD:-}; do
  iyesmp config scaffold "$kind" --dir "$PKI" --hosts "$COUNT" --out "$OUT/$kind" --force >/dev/null
  say "wrote $OUT/$kind/"
done

echo "$OUT/bundles"
