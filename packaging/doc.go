// Package packaging holds what the .deb carries besides the binary (systemd unit,
// settings file, maintainer scripts, nfpm configuration); its test installs the
// package built by `make dist` and starts the unit's command (`make deb-test`).
package packaging
