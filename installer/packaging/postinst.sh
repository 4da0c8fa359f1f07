#!/bin/sh
# Post-install of dray-agent and dray-relay (which one: dpkg says): the
# service account, the data directory (0750, the account's), the
# configuration (0640 root:<account>: it may hold secrets). A fresh install
# enables the service but does not start it: configure (and enroll) first,
# then `systemctl start <name>`. An upgrade restarts a running service.
set -e
case "$DPKG_MAINTSCRIPT_PACKAGE" in
dray-agent) ACCOUNT=dray CONFIG=/etc/dray/agent.yaml ;;
dray-relay) ACCOUNT=dray-relay CONFIG=/etc/dray/relay.yaml ;;
*) echo "postinst: unknown package '$DPKG_MAINTSCRIPT_PACKAGE'" >&2; exit 1 ;;
esac
NAME=$DPKG_MAINTSCRIPT_PACKAGE
DATA=/var/lib/$NAME
[ "$1" = configure ] || exit 0
if ! getent passwd "$ACCOUNT" >/dev/null; then
	useradd --system --user-group --no-create-home --home-dir "$DATA" \
		--shell /usr/sbin/nologin --comment "$NAME service" "$ACCOUNT"
fi
install -d -m 0750 -o "$ACCOUNT" -g "$ACCOUNT" "$DATA"
if [ -e "$CONFIG" ]; then
	chown root:"$ACCOUNT" "$CONFIG"
	chmod 0640 "$CONFIG"
fi
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
	if [ -n "$2" ]; then
		systemctl try-restart "$NAME.service" || true
	else
		systemctl enable "$NAME.service"
		echo "$NAME installed: edit $CONFIG, then: systemctl start $NAME" >&2
	fi
fi
exit 0
