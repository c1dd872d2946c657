#!/usr/bin/env bash
# Installs Debian's PostgreSQL 15 for the tests of the PostgreSQL catalog (tests/common/pg.rs
# starts a server of its own with initdb and pg_ctl in a temporary directory, on a loopback port),
# unless /usr/lib/postgresql/15/bin/initdb is already there.
#
#   scripts/install_postgres.sh         # run it, or source it and call idc_install_postgres
#
# Prints nothing when PostgreSQL 15 is there. As root it installs `postgresql-15` with apt-get;
# otherwise it prints the apt-get command and fails, since those tests never skip.
#
# The package's postinst creates the system's "15 main" cluster and starts it on port 5432 unless
# policy-rc.d forbids it, as container images usually do. The tests never use it, so it is
# forbidden for this install when nothing else does (the cluster is created, and stays stopped).

# shellcheck source=scripts/debian_packages.sh
source "$(dirname "${BASH_SOURCE[0]}")/debian_packages.sh"

IDC_POSTGRES_INITDB=/usr/lib/postgresql/15/bin/initdb

idc_install_postgres() {
  [[ -x $IDC_POSTGRES_INITDB ]] && return 0
  if [[ $(id -u) -ne 0 ]]; then
    echo "idc: the PostgreSQL catalog tests need PostgreSQL 15 (Debian's postgresql-15); install it with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends postgresql-15" >&2
    return 1
  fi
  echo "idc: installing Debian's postgresql-15 for the PostgreSQL catalog tests" >&2
  local policy=/usr/sbin/policy-rc.d added_policy="" status=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# added by idc scripts/install_postgres.sh for one apt-get run\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    added_policy=1
  fi
  idc_require_debian_packages "test -x $IDC_POSTGRES_INITDB" postgresql-15 || status=$?
  if [[ -n $added_policy ]]; then
    rm -f "$policy"
  fi
  return "$status"
}

# Run as a script (not sourced): install, and exit with the result.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  set -euo pipefail
  idc_install_postgres
fi
