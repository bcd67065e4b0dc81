#!/usr/bin/env bash
# Builds the test Kubernetes control plane (kube-apiserver and the embedded
# etcd in test/k8s/etcd) from the Go modules pinned in test/k8s/, once per
# version, into
#
#   ${HERALD_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/herald/k8s}/<k8s-version>-<hash>/
#
# where <hash> covers the go.mod, go.sum and .go files of both modules, so an
# edit to either rebuilds and a warm run only checks that the binaries exist.
# Prints the bin dir as the last line of stdout; progress goes to stderr.
#
# A cold build (empty Go caches: ~700 MB of modules, ~2,600 packages) took
# 6.5 minutes on 2 cores (test/k8s/README.md). It runs under nice so an editor, a type
# checker or another build on the same machine stays usable.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
k8s_dir="$root/test/k8s"
cache_root="${HERALD_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/herald/k8s}"

k8s_version="$(awk '{ sub(/^require[ \t]+/, "") } $1 == "k8s.io/kubernetes" { print $2; exit }' "$k8s_dir/apiserver/go.mod")"
if [[ -z "$k8s_version" ]]; then
  echo "k8s-build: no k8s.io/kubernetes requirement in $k8s_dir/apiserver/go.mod" >&2
  exit 1
fi

# Hash the inputs in a fixed order, by path relative to test/k8s.
hash="$(
  cd "$k8s_dir" &&
    find apiserver etcd -type f \( -name go.mod -o -name go.sum -o -name '*.go' \) -print |
    LC_ALL=C sort |
    xargs sha256sum |
    sha256sum | cut -c1-12
)"
bin_dir="$cache_root/$k8s_version-$hash"

if [[ -x "$bin_dir/kube-apiserver" && -x "$bin_dir/etcd" ]]; then
  echo "k8s-build: up to date" >&2
  echo "$bin_dir"
  exit 0
fi

# The machine image installs Go under /usr/local/go; a shell without a login
# profile (CI) may not have it on PATH.
if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
  export PATH="/usr/local/go/bin:$PATH"
fi
if ! command -v go >/dev/null 2>&1; then
  echo "k8s-build: 'go' not found on PATH; install Go >= 1.26 (see test/k8s/README.md)" >&2
  exit 1
fi

mkdir -p "$cache_root"
# One build at a time per cache: a second caller waits, then finds the result.
exec 9>"$cache_root/.lock"
if command -v flock >/dev/null 2>&1; then
  flock 9
  if [[ -x "$bin_dir/kube-apiserver" && -x "$bin_dir/etcd" ]]; then
    echo "k8s-build: built by another process" >&2
    echo "$bin_dir"
    exit 0
  fi
fi

tmp="$(mktemp -d "$cache_root/.build-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"

# GOTOOLCHAIN=local: never fetch another Go; the go lines in test/k8s ask for
# no newer Go than the one installed. CGO_ENABLED=0: static binaries, no C
# compiler needed, as upstream builds kube-apiserver.
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=mod ${GOFLAGS:-}"

# Upstream stamps the version with -X (hack/lib/version.sh); without it
# /version reports v0.0.0-master.
minor="${k8s_version#v1.}"
minor="${minor%%.*}"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done

start=$SECONDS
echo "k8s-build: building kube-apiserver $k8s_version into $bin_dir (cold builds take minutes)" >&2
(cd "$k8s_dir/apiserver" &&
  nice -n 10 go build -trimpath -ldflags "$ldflags" -o "$tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver)
echo "k8s-build: building etcd" >&2
(cd "$k8s_dir/etcd" &&
  nice -n 10 go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" .)

rm -rf "$bin_dir"
mv "$tmp" "$bin_dir"
trap - EXIT
echo "k8s-build: done in $((SECONDS - start))s" >&2
echo "$bin_dir"
