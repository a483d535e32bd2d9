// Package deploy holds the container deployment: the Dockerfile, the docker compose
// file and its example environment. Its test checks them, since CI has no container engine.
package deploy
