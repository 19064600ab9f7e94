#!/usr/bin/env bash
# A real TLS server (issue 4, "done when"): Debian's nginx on 127.0.0.1 with
# ssl_verify_client and ssl_crl set to the chain bundle devpki publishes
# (<home>/crl/factory-chain.crl.pem), a server certificate devpki issued
# (profile server-tls), and curl as the device with the certificate and key
# devpki-mint made. A good device gets HTTP 200; once devpki-decommission has
# run and nginx reloaded, the decommissioned device is refused (400 "The SSL
# certificate error", "certificate revoked" in nginx's log) while the others
# still get in. Also: a CRL file without the root's CRL locks out everyone
# (why the bundle exists); a certificateHold shuts a device out and
# `devpki-ca release` lets it back in. Only devpki's files are used. nginx
# missing is a failure, not a skip (CI installs it: scripts/deps.sh test).
source "$(dirname "$0")/lib.sh"
: "${MINT:?run through ctest (DEVPKI_MINT unset)}"
: "${DECOM:?run through ctest (DEVPKI_DECOMMISSION unset)}"
for tool in nginx curl; do
  if ! command -v $tool >/dev/null; then
    fail "$tool is not installed (scripts/deps.sh test installs it)"
    finish || exit 1
  fi
done

N=$T/nginx
mkdir -p "$N"
NGINX=(nginx -p "$N" -c "$N/nginx.conf" -e "$N/error.log")
stop_nginx() {
  local pid
  [ -s "$N/nginx.pid" ] || return 0
  pid=$(cat "$N/nginx.pid")
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}
trap 'stop_nginx; rm -rf "$T"' EXIT

# --- what devpki produces ---------------------------------------------------------
H=$T/h
new_home "$H"
ca_files "$H" factory "$T/ca"
ROOT=$T/ca/root.pem
CLIENT_CAS=$T/ca/chain.pem  # the factory CA and the root: what nginx trusts for clients
"$MINT" --home "$H" --passphrase-file "$PASS_FILE" --ca factory --profile device-idevid --count 4 \
  --id-pattern 'TLS-{seq}' --out "$T/devs" --format pem --batch-id tls >/dev/null
# The server: a CSR from openssl, signed under server-tls for "gw" (SAN gw.acme.example).
csr_openssl "$T/srv.csr" ec:P-256 -subj /CN=gw
if "$CA" --home "$H" sign --ca factory --profile server-tls --csr "$T/srv.csr" --device-id gw \
  --out "$T/srv.pem" --passphrase-file "$PASS_FILE" >/dev/null 2>"$T/err"; then ok; else
  fail "sign the server certificate: $(cat "$T/err")"
fi
grep -q 'DNS:gw.acme.example' <<<"$(openssl x509 -in "$T/srv.pem" -noout -ext subjectAltName 2>&1)" && ok ||
  fail "server certificate SAN: $(openssl x509 -in "$T/srv.pem" -noout -ext subjectAltName 2>&1)"
"$CA" --home "$H" chain --ca factory --no-root --out "$T/ca/factory.pem" >/dev/null
cat "$T/srv.pem" "$T/ca/factory.pem" >"$T/srv-chain.pem"
for ca in root factory; do
  "$CA" --home "$H" crl --ca $ca --passphrase-file "$PASS_FILE" >/dev/null 2>"$T/err" || fail "crl --ca $ca: $(cat "$T/err")"
done
BUNDLE=$H/crl/factory-chain.crl.pem
[ -f "$BUNDLE" ] && ok || fail "no chain bundle $BUNDLE"

# --- nginx ---------------------------------------------------------------------------
# Two servers: P1 checks the chain bundle; P2 the factory's CRL alone (no CRL for the root).
write_conf() {
  cat >"$N/nginx.conf" <<EOF
worker_processes 1;
pid $N/nginx.pid;
error_log $N/error.log info;
events { worker_connections 64; }
http {
  access_log $N/access.log;
  client_body_temp_path $N/tmp-body;
  proxy_temp_path $N/tmp-proxy;
  fastcgi_temp_path $N/tmp-fastcgi;
  uwsgi_temp_path $N/tmp-uwsgi;
  scgi_temp_path $N/tmp-scgi;
  ssl_certificate $T/srv-chain.pem;
  ssl_certificate_key $T/srv.key;
  ssl_verify_client on;
  ssl_client_certificate $CLIENT_CAS;
  ssl_verify_depth 2;
  server {
    listen 127.0.0.1:$P1 ssl;
    server_name gw.acme.example;
    ssl_crl $BUNDLE;
    location / { return 200 "hello \$ssl_client_s_dn\n"; }
  }
  server {
    listen 127.0.0.1:$P2 ssl;
    server_name gw.acme.example;
    ssl_crl $H/crl/factory.crl.pem;
    location / { return 200 "hello \$ssl_client_s_dn\n"; }
  }
}
EOF
}
P1=0 P2=0
started=""
for _ in $(seq 1 20); do
  P1=$((20000 + RANDOM % 40000))
  P2=$((P1 + 1))
  write_conf
  if ! "${NGINX[@]}" -t >"$T/nginx-t.out" 2>&1; then
    fail "nginx -t with devpki's files: $(cat "$T/nginx-t.out")"
    finish || exit 1
  fi
  # Daemon mode: returns once listening, non-zero when a port is taken.
  if "${NGINX[@]}" >"$T/nginx.out" 2>&1; then
    started=1
    break
  fi
  grep -q 'Address already in use' "$T/nginx.out" || break
done
if [ -z "$started" ]; then
  fail "nginx did not start: $(cat "$T/nginx.out"; tail -5 "$N/error.log" 2>/dev/null)"
  finish || exit 1
fi
ok

# request PORT [DEVICE]: curl as DEVICE (no client certificate without one); prints
# the HTTP code (000 when no HTTP answer), the body in $T/body.
request() {
  local port=$1 dev=${2:-} code args=()
  [ -n "$dev" ] && args=(--cert "$T/devs/$dev/cert.pem" --key "$T/devs/$dev/key.pem")
  code=$(curl -sS -o "$T/body" -w '%{http_code}' --max-time 10 --cacert "$ROOT" \
    --resolve "gw.acme.example:$port:127.0.0.1" "${args[@]}" "https://gw.acme.example:$port/" 2>"$T/curl.err") || true
  echo "${code:-000}"
}
# expect NAME CODE PORT [DEVICE] [BODY_REGEX]: the answer has CODE (and a body matching).
expect() {
  local name=$1 want=$2 port=$3 dev=${4:-} regex=${5:-} got
  got=$(request "$port" "$dev")
  if [ "$got" != "$want" ]; then
    fail "$name: HTTP $got, expected $want ($(cat "$T/curl.err"); $(head -c 300 "$T/body" 2>/dev/null); log: $(tail -3 "$N/error.log"))"
  elif [ -n "$regex" ] && ! grep -Eq "$regex" "$T/body"; then
    fail "$name: body '$(head -c 300 "$T/body")' does not match /$regex/"
  else
    ok
  fi
}
# nginx_workers: the pids of the master's children (from /proc: no procps needed).
nginx_workers() {
  awk -v m="$(cat "$N/nginx.pid")" '$4 == m { print $1 }' /proc/[0-9]*/stat 2>/dev/null || true
}
# reload NAME: `nginx -s reload`, then wait (20 s at most) until every worker that
# ran before has exited and a new one runs: from then on every connection sees
# the configuration (and the CRL file) as it was read at the reload.
reload() {
  local name=$1 old pid gone=""
  old=$(nginx_workers)
  "${NGINX[@]}" -s reload 2>"$T/reload.err" || fail "$name: nginx -s reload: $(cat "$T/reload.err")"
  for _ in $(seq 1 100); do
    gone=1
    for pid in $old; do [ -e "/proc/$pid" ] && gone=""; done
    [ -n "$gone" ] && [ -n "$(nginx_workers)" ] && break
    gone=""
    sleep 0.2
  done
  [ -n "$gone" ] && ok || fail "$name: the workers from before the reload still run 20 s later (log: $(tail -3 "$N/error.log"))"
}
# Wait until it answers.
for _ in $(seq 1 50); do
  [ "$(request "$P1")" != 000 ] && break
  sleep 0.1
done

# --- before: every device gets in ---------------------------------------------------------
expect "good device" 200 "$P1" TLS-1 'CN=TLS-1'
expect "device to decommission, before" 200 "$P1" TLS-2 'CN=TLS-2'
expect "no client certificate" 400 "$P1" "" 'No required SSL certificate was sent'
# A client certificate from elsewhere (openssl, not devpki): refused.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/stranger.key" \
  -out "$T/stranger.pem" -subj /CN=TLS-1 -days 2 2>/dev/null
mkdir -p "$T/devs/stranger" && cp "$T/stranger.pem" "$T/devs/stranger/cert.pem" && cp "$T/stranger.key" "$T/devs/stranger/key.pem"
expect "certificate of another CA" 400 "$P1" stranger 'The SSL certificate error'
# Without the root's CRL, nginx (OpenSSL -crl_check_all) refuses even a good device.
expect "good device, no root CRL" 400 "$P2" TLS-1 'The SSL certificate error'
grep -q 'unable to get certificate CRL' "$N/error.log" && ok ||
  fail "nginx log does not say why without the root's CRL: $(grep -i 'verify' "$N/error.log" | tail -2)"

# --- decommission TLS-2 ------------------------------------------------------------------------
if "$DECOM" --home "$H" --device TLS-2 --passphrase-file "$PASS_FILE" >"$T/out" 2>"$T/err"; then ok; else
  fail "devpki-decommission --device TLS-2: $(cat "$T/err")"
fi
# nginx reads ssl_crl when it loads its configuration: until the reload, TLS-2 still gets in.
expect "decommissioned device before nginx reloads" 200 "$P1" TLS-2
reload "reload after decommissioning"
expect "decommissioned device refused" 400 "$P1" TLS-2 'The SSL certificate error'
grep -q 'client SSL certificate verify error: (23:certificate revoked)' "$N/error.log" && ok ||
  fail "nginx log does not say revoked: $(grep -i 'verify' "$N/error.log" | tail -2)"
expect "good device after the reload" 200 "$P1" TLS-1 'CN=TLS-1'
expect "another good device after the reload" 200 "$P1" TLS-3 'CN=TLS-3'

# --- certificateHold, then release --------------------------------------------------------------
S4=$(cert_serial "$T/devs/TLS-4/cert.pem")
"$CA" --home "$H" revoke --serial "$S4" --reason certificateHold >/dev/null 2>&1 || fail "hold TLS-4"
"$CA" --home "$H" crl --ca factory --passphrase-file "$PASS_FILE" >/dev/null 2>&1 || fail "crl after the hold"
reload "reload after the hold"
expect "device on hold" 400 "$P1" TLS-4 'The SSL certificate error'
expect "decommissioned device still refused" 400 "$P1" TLS-2
"$CA" --home "$H" release --serial "$S4" >/dev/null 2>&1 || fail "release TLS-4"
"$CA" --home "$H" crl --ca factory --passphrase-file "$PASS_FILE" >/dev/null 2>&1 || fail "crl after the release"
reload "reload after the release"
expect "released device" 200 "$P1" TLS-4 'CN=TLS-4'
expect "decommissioned device refused after the release" 400 "$P1" TLS-2
expect "good device at the end" 200 "$P1" TLS-1

finish
