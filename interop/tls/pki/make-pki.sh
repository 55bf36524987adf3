#!/usr/bin/env bash
# Makes a throw-away PKI for the TLS scenarios in directory $1 with openssl: ca.pem, a server
# certificate for 127.0.0.1 and localhost (server.pem, server-key.pem) and a client
# certificate with CN=guest (client.pem, client-key.pem) for SASL EXTERNAL. Nothing made
# here is kept: run.sh calls it for each run.
set -euo pipefail
dir="${1:?usage: make-pki.sh DIR}"
mkdir -p "$dir"
cd "$dir"
quiet() { "$@" >/dev/null 2>&1 || { echo "make-pki: $* failed" >&2; "$@"; exit 1; }; }
quiet openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout ca-key.pem -out ca.pem -days 2 -subj "/O=Warren interop/CN=Warren interop CA"
for who in server client; do
  if [[ $who == server ]]; then
    subj="/O=Warren interop/CN=localhost"
    ext="subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth"
  else
    subj="/O=Warren interop/CN=guest"
    ext="extendedKeyUsage=clientAuth"
  fi
  quiet openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$who-key.pem" -out "$who.csr" -subj "$subj"
  quiet openssl x509 -req -in "$who.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
    -days 2 -out "$who.pem" -extfile <(printf '%s\n' "$ext")
done
rm -f ./*.csr ca.srl
