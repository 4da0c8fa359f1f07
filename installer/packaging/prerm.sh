#!/bin/sh
# Pre-remove of dray-agent and dray-relay: stop and disable the service.
# Its data directory (the agent's spool and identity, the relay's log and
# site CA) and its account stay, even on purge: remove them by hand when the
# site or relay is gone for good.
set -e
case "$DPKG_MAINTSCRIPT_PACKAGE" in
dray-agent | dray-relay) NAME=$DPKG_MAINTSCRIPT_PACKAGE ;;
*) echo "prerm: unknown package '$DPKG_MAINTSCRIPT_PACKAGE'" >&2; exit 1 ;;
esac
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
	systemctl stop "$NAME.service" || true
	systemctl disable "$NAME.service" || true
fi
exit 0
