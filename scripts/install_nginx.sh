#!/usr/bin/env bash
# Installs Debian's nginx for tests/scale_out.rs (two idc_server replicas behind nginx's
# grpc_pass), unless an nginx with gRPC proxying is already there.
#
#   scripts/install_nginx.sh            # run it, or source it and call idc_install_nginx
#
# Prints nothing when nginx is there. As root it installs with apt-get; otherwise it prints the
# apt-get command and fails, since the scale-out test never skips.
#
# grpc_pass needs nginx built with the HTTP/2 module and without --without-http_grpc_module
# (the gRPC module is built whenever HTTP/2 is). Debian 12's `nginx` package (1.22) has both;
# `nginx-light` is only a dependency package on top of it there, so `nginx` is what we ask for.

# The nginx binary the test uses: $IDC_NGINX, else Debian's path.
idc_nginx_path() {
  echo "${IDC_NGINX:-/usr/sbin/nginx}"
}

# Whether $1 is an nginx that can proxy gRPC, judged from `nginx -V` (which prints to stderr).
idc_nginx_has_grpc() {
  local flags
  flags="$("$1" -V 2>&1)" || return 1
  [[ $flags == *--with-http_v2_module* && $flags != *--without-http_grpc_module* ]]
}

idc_install_nginx() {
  local nginx
  nginx="$(idc_nginx_path)"
  if [[ -x $nginx ]] && idc_nginx_has_grpc "$nginx"; then
    return 0
  fi
  if [[ -n ${IDC_NGINX:-} ]]; then
    # Someone chose a binary: never replace it with a package behind their back.
    echo "idc: IDC_NGINX=$IDC_NGINX is not an nginx with HTTP/2 and gRPC proxying (see \`$IDC_NGINX -V\`)" >&2
    return 1
  fi
  local command="apt-get install -y --no-install-recommends nginx"
  if [[ $(id -u) -ne 0 ]]; then
    echo "idc: the scale-out test (tests/scale_out.rs) needs nginx with grpc_pass; install it with:" >&2
    echo "  sudo apt-get update && sudo $command" >&2
    return 1
  fi
  echo "idc: installing Debian's nginx for tests/scale_out.rs" >&2
  # The package's postinst starts the system nginx (the default site listens on port 80 of every
  # interface) unless policy-rc.d forbids it, as container images usually do. The test starts
  # its own nginx on loopback, so forbid it for this install when nothing else does.
  local policy=/usr/sbin/policy-rc.d added_policy=""
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# added by idc scripts/install_nginx.sh for one apt-get run\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    added_policy=1
  fi
  local status=0
  apt-get update -qq >&2 || status=$?
  if [[ $status -eq 0 ]]; then
    DEBIAN_FRONTEND=noninteractive $command -qq >&2 || status=$?
  fi
  if [[ -n $added_policy ]]; then
    rm -f "$policy"
  fi
  if [[ $status -ne 0 ]]; then
    echo "idc: \`$command\` failed (status $status)" >&2
    return 1
  fi
  if ! idc_nginx_has_grpc "$nginx"; then
    echo "idc: $nginx was installed but lacks HTTP/2 or gRPC proxying (see \`$nginx -V\`)" >&2
    return 1
  fi
}

# Run as a script (not sourced): install, and exit with the result.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  set -euo pipefail
  idc_install_nginx
fi
