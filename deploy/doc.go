// Package deploy holds the container deployment: the Dockerfile, the docker compose
// file and its example environment. Its test checks them statically; make compose-test
// runs the compose file for real (scripts/compose-test.sh, deploy/compose.test.yaml).
package deploy
