#!/bin/sh
# Stop the server before its binary goes; on upgrade the new postinstall restarts it.
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
	systemctl disable --now taxii-server >/dev/null 2>&1 || true
fi
