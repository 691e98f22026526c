#!/bin/sh
# Builds dnsrr's container image (../Containerfile) without network: the
# binary is built here, statically (CGO off), the CA certificates come from
# this host, and the image starts from scratch, so nothing is pulled.
#
#   container/build.sh                      # tags localhost/dnsrr:latest
#   IMAGE=registry.example.net/dnsrr:1.0 container/build.sh
#   GOARCH=arm64 container/build.sh         # another architecture
#   CONTAINER_ENGINE=docker container/build.sh
#   DIST=.build/other container/build.sh   # where the binary goes (under .build/)
#
# The engine is podman, buildah or docker, the first found. Extra arguments
# go to the engine's build command.
set -eu
cd "$(dirname "$0")/.."

image=${IMAGE:-localhost/dnsrr:latest}
engine=${CONTAINER_ENGINE:-}
if [ -z "$engine" ]; then
  for e in podman buildah docker; do
    if command -v "$e" >/dev/null 2>&1; then engine=$e; break; fi
  done
fi
if [ -z "$engine" ]; then
  echo "container/build.sh: no podman, buildah or docker found (CONTAINER_ENGINE=...)" >&2
  exit 1
fi

out=${DIST:-.build/container}
case $out in
  *..*) echo "container/build.sh: DIST=$out: no .. please" >&2; exit 1 ;;
  .build/*) ;;
  *) echo "container/build.sh: DIST=$out is not under .build/ (the build context sends only that)" >&2; exit 1 ;;
esac
mkdir -p "$out"
arch=$(go env GOARCH)
# -buildvcs=auto overrides a GOFLAGS that turns stamping off: the image's
# `dnsrr version` names the commit it was built from.
CGO_ENABLED=0 GOOS=linux go build -trimpath -buildvcs=auto -ldflags='-s -w' -o "$out/dnsrr" ./cmd/dnsrr

ca=
for f in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/cert.pem; do
  if [ -s "$f" ]; then ca=$f; break; fi
done
if [ -z "$ca" ]; then
  echo "container/build.sh: no CA certificate bundle on this host (Debian: apt-get install ca-certificates)" >&2
  exit 1
fi
cp "$ca" "$out/ca-certificates.crt"

version=$(go version -m "$out/dnsrr" | awk '$1 == "mod" { print $3 }')
revision=$(go version -m "$out/dnsrr" | sed -n 's/^[[:space:]]*build[[:space:]]*vcs.revision=//p')

case $engine in
  buildah) build="buildah build" ;;
  *) build="$engine build" ;;
esac
# --platform only for another architecture than the engine's own.
platform=
if [ -n "${GOARCH:-}" ]; then platform="--platform=linux/$arch"; fi
# shellcheck disable=SC2086 # $build is a command and its subcommand; $platform one word or none
$build $platform -f Containerfile -t "$image" \
  --build-arg "DIST=$out" --build-arg "VERSION=${version:-unknown}" --build-arg "REVISION=${revision:-unknown}" "$@" .
echo "built $image (dnsrr ${version:-unknown}, linux/$arch)"
