#!/usr/bin/env bash
# Installs, idempotently, the Debian packages dray's tests and benchmarks
# run against for real (never mocks): an independent MQTT v5 client for the
# relay's interoperability test, mosquitto as the benchmarks' peer, and
# PostgreSQL and MariaDB servers for the sql connector's integration tests
# (testenv/dbserver starts private instances; the packages' own services are
# not used). Called by `make test`; a no-op when
# everything is present. Without root or apt it says what is missing and
# carries on (the tests that need a package skip with that reason).
set -euo pipefail

need=()
command -v mosquitto_pub >/dev/null 2>&1 || need+=(mosquitto-clients)
command -v zip >/dev/null 2>&1 || need+=(zip)
command -v dpkg-deb >/dev/null 2>&1 || need+=(dpkg)
[ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null 2>&1 || need+=(mosquitto)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null 2>&1 || need+=(postgresql)
[ -x /usr/sbin/mariadbd ] || command -v mariadbd >/dev/null 2>&1 || need+=(mariadb-server)

if [ ${#need[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "deps: missing ${need[*]} (run as root on Debian to install them); dependent tests will skip" >&2
	exit 0
fi
echo "deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1; then
	apt-get update -qq >/dev/null
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
