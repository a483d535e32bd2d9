#!/bin/sh
# The taxii system user owns the data folder; the server runs as it.
set -e
if ! getent passwd taxii >/dev/null; then
	useradd --system --user-group --home-dir /var/lib/taxii-server --no-create-home \
		--shell /usr/sbin/nologin --comment "taxii-server" taxii
fi
mkdir -p /var/lib/taxii-server
chown taxii:taxii /var/lib/taxii-server
chmod 0750 /var/lib/taxii-server
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null || true
	# An upgrade restarts a running server (it migrates at start); a first install waits for the operator.
	if systemctl is-active --quiet taxii-server; then
		systemctl restart taxii-server || true
	else
		echo "taxii-server: edit /etc/taxii-server/env, then: systemctl enable --now taxii-server"
	fi
fi
