#!/usr/bin/env bash
# Installs what the nginx-facing tests and the benchmark need and npm cannot
# bring: nginx (the reverse proxy in test/ingress-nginx.test.ts, an ingress
# stand-in) and its nchan module (the benchmark's peer). Debian packages, once;
# a no-op when both are there.
set -euo pipefail

NGINX=/usr/sbin/nginx
NCHAN=/usr/lib/nginx/modules/ngx_nchan_module.so

if [[ -x "$NGINX" && -e "$NCHAN" ]]; then
  exit 0
fi
if [[ "$(id -u)" != 0 ]]; then
  echo "ensure-nginx: nginx and libnginx-mod-nchan are missing; install them (apt-get install nginx libnginx-mod-nchan) or run as root" >&2
  exit 1
fi
echo "ensure-nginx: installing nginx and libnginx-mod-nchan (once)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends nginx libnginx-mod-nchan >/dev/null
[[ -x "$NGINX" && -e "$NCHAN" ]] || { echo "ensure-nginx: install finished but $NGINX or $NCHAN is missing" >&2; exit 1; }
