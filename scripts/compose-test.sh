#!/usr/bin/env bash
# make compose-test: run the real deploy/docker-compose.yml, with deploy/compose.test.yaml on top,
# under rootful podman and Docker Compose v2 (COMPOSE, built by the Makefile), then check what a user
# does with it: both services healthy, the first admin key in its 0600 file in the data volume and in
# no log, a key and a feed created and the example bundle imported through `exec`, the feed polled
# over TAXII; stop and start, then down and up again, and the same data polled. It tears everything
# down and ends every process it started, also on failure (then the containers' logs are printed).
#
# This machine has no registry for images and no systemd, hence:
# - images built locally (deploy/compose-test/): the server from scratch with bin/taxii-server,
#   Postgres from a Debian root (mmdebstrap + podman import); both kept between runs, by content;
# - `podman system service` on a socket of its own as the Docker API (DOCKER_HOST);
# - podman 4.3 schedules health checks through systemd timers, so a loop here runs them instead;
# - containers.conf: runc (crun fails on this cgroup layout) and ulimits within the sandbox's.
#
# Settings (environment): COMPOSE (required), VERSION (what `taxii-server version` must print),
# COMPOSE_TEST_TIMEOUT (seconds for each wait, default 180), COMPOSE_TEST_KEEP=1 (leave it running).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

: "${COMPOSE:?COMPOSE must name the docker compose binary (run make compose-test)}"
COMPOSE=$(realpath "$COMPOSE")
VERSION=${VERSION:-}
WAIT=${COMPOSE_TEST_TIMEOUT:-180}
PROJECT=taxii-compose-test
STATE=/run/taxii-compose-test           # socket, containers.conf, this run's env files
CACHE=$REPO/bin/compose-test            # build contexts (git-ignored)
IMAGES=localhost/taxii-compose-test
# Bump to rebuild the Debian root (it is otherwise kept, by this tag, in podman's storage).
PG_BASE=$IMAGES/debian-postgresql:bookworm-1

T0=$SECONDS
log() { printf 'compose-test [%4ds] %s\n' $((SECONDS - T0)) "$*" >&2; }
die() {
	log "FAIL: $*"
	exit 1
}

[ "$(id -u)" = 0 ] || die "needs root (rootful podman); run as root or through sudo"

# Variables of the caller's shell would win over the test's env file in ${...} and COMPOSE_*.
unset POSTGRES_PASSWORD PUBLISH_PORT TAXII_DATABASE_URL COMPOSE_FILE COMPOSE_PROJECT_NAME \
	COMPOSE_PROFILES COMPOSE_ENV_FILES DOCKER_CONTEXT DOCKER_CERT_PATH DOCKER_TLS_VERIFY

# --- tools -------------------------------------------------------------------------------------
# netavark and aardvark-dns: the compose network's DNS (the server reaches "postgres" by name).
need=()
for p in podman runc netavark aardvark-dns iptables mmdebstrap jq curl; do
	dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	log "installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null || die "apt-get update failed"
	apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${need[@]}" >/dev/null ||
		die "apt-get install ${need[*]} failed"
fi

# --- podman's configuration, in a file of the test's own (CONTAINERS_CONF), not /etc ----------
mkdir -p "$STATE" "$CACHE"
# The sandbox refuses limits above its own hard ones, and podman's default nofile is above them.
lim() { # lim WANTED HARD -> the smaller
	if [ "$2" = unlimited ] || [ "$1" -le "$2" ]; then echo "$1"; else echo "$2"; fi
}
nofile=$(lim 20000 "$(ulimit -Hn)")
nproc=$(lim 32768 "$(ulimit -Hu)")
cat >"$STATE/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
log_driver = "k8s-file"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
[network]
network_backend = "netavark"
EOF
export CONTAINERS_CONF=$STATE/containers.conf

# --- what this run starts, and how it is all stopped ------------------------------------------
SERVICE_PID='' HEALTH_PID='' RUN='' FAILED=1
# Processes podman leaves running per container or network; any new one is ours to end.
helpers() { pgrep -x 'conmon|aardvark-dns|podman|netavark|catatonit' 2>/dev/null | sort || true; }
BEFORE=$(helpers)

dc() {
	"$COMPOSE" -p "$PROJECT" -f deploy/docker-compose.yml -f deploy/compose.test.yaml \
		--env-file "$RUN/.env" "$@"
}

stop_pid() { # stop_pid PID NAME [SECONDS]: TERM, up to SECONDS (15), then KILL
	local pid=$1 tries=$((${3:-15} * 2))
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 1 "$tries"); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.5
	done
	log "$2 (pid $pid) ignored SIGTERM for ${3:-15} s; killing it"
	kill -9 "$pid" 2>/dev/null || true
}

cleanup() {
	local rc=$?
	set +e
	if [ "$FAILED" = 1 ] && [ -n "$SERVICE_PID" ] && [ -n "$RUN" ]; then
		log "failed: the containers and their logs follow"
		timeout 60 "$COMPOSE" -p "$PROJECT" -f deploy/docker-compose.yml -f deploy/compose.test.yaml \
			--env-file "$RUN/.env" ps -a >&2
		timeout 60 "$COMPOSE" -p "$PROJECT" -f deploy/docker-compose.yml -f deploy/compose.test.yaml \
			--env-file "$RUN/.env" logs --no-color --timestamps --tail 200 >&2
		for c in $(podman ps -aq --filter "label=com.docker.compose.project=$PROJECT"); do
			podman inspect --format '{{.Name}}: {{.State.Status}}, health {{.State.Health.Status}}' "$c" >&2
		done
		log "podman service log (last 40 lines):"
		tail -n 40 "$STATE/service.log" >&2
	fi
	if [ "${COMPOSE_TEST_KEEP:-}" = 1 ] && [ "$FAILED" = 0 ]; then
		log "COMPOSE_TEST_KEEP=1: left running; DOCKER_HOST=$DOCKER_HOST, env file $RUN/.env"
		return
	fi
	log "tearing down"
	if [ -n "$SERVICE_PID" ] && [ -n "$RUN" ]; then
		timeout 120 "$COMPOSE" -p "$PROJECT" -f deploy/docker-compose.yml -f deploy/compose.test.yaml \
			--env-file "$RUN/.env" down -v --remove-orphans --timeout 45 >/dev/null 2>&1 ||
			log "compose down failed; removing the project's containers, volumes and networks with podman"
	fi
	# Whatever down left (or a run that failed before the service came up).
	local label=label=com.docker.compose.project=$PROJECT
	podman ps -aq --filter "$label" | xargs -r podman rm -f -t 10 >/dev/null 2>&1
	podman volume ls -q --filter "$label" | xargs -r podman volume rm -f >/dev/null 2>&1
	podman network ls -q --filter "$label" | xargs -r podman network rm -f >/dev/null 2>&1
	touch "$STATE/stop-health"
	stop_pid "$HEALTH_PID" "health check loop"
	stop_pid "$SERVICE_PID" "podman system service"
	[ -z "$HEALTH_PID" ] || wait "$HEALTH_PID" 2>/dev/null
	[ -z "$SERVICE_PID" ] || wait "$SERVICE_PID" 2>/dev/null
	sleep 1
	local left
	left=$(comm -13 <(echo "$BEFORE") <(helpers) | grep . || true)
	if [ -n "$left" ]; then
		# podman 4.3 leaves the conmon of each exec session made through its Docker API
		# (compose exec) running after the container is gone; they are this run's.
		log "ending what podman left running:"
		ps -o pid=,args= -p "$(echo $left | tr ' ' ,)" | cut -c1-150 >&2
		for p in $left; do stop_pid "$p" "leftover" 2; done
	fi
	rm -rf "$RUN" "$STATE/podman.sock" "$STATE/stop-health"
	if [ "$FAILED" = 0 ] && [ "$rc" = 0 ]; then
		log "PASS (${SECONDS}s)"
	else
		log "FAIL (${SECONDS}s)"
		[ "$rc" != 0 ] || rc=1
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# until SECONDS WHAT CMD...: retry CMD every second, then fail with WHAT.
until_ok() {
	local limit=$1 what=$2 end=$((SECONDS + $1))
	shift 2
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $end ] || die "timed out after ${limit}s waiting for $what"
		sleep 1
	done
}

# --- images ------------------------------------------------------------------------------------
drop_other_tags() { # drop_other_tags REPO KEEP: the previous builds of a cached image
	podman images --format '{{.Repository}}:{{.Tag}}' "$1" | grep -vxF "$2" | xargs -r podman rmi -f >/dev/null 2>&1 || true
}

if ! podman image exists "$PG_BASE"; then
	log "building the Debian root with postgresql (mmdebstrap, a few minutes; kept as $PG_BASE)"
	rm -f "$CACHE/pg-root.tar"
	# The system PATH: a python3 shim of pyenv or the like before Debian's would be run by
	# mmdebstrap's helpers once per package, minutes in all on a loaded machine.
	timeout 1800 env PATH=/usr/sbin:/usr/bin:/sbin:/bin mmdebstrap --verbose --variant=apt \
		--include=postgresql --dpkgopt=force-unsafe-io \
		bookworm "$CACHE/pg-root.tar" >"$CACHE/mmdebstrap.log" 2>&1 ||
		{ tail -n 30 "$CACHE/mmdebstrap.log" >&2; die "mmdebstrap failed (log above)"; }
	podman import --quiet "$CACHE/pg-root.tar" "$PG_BASE" >/dev/null || die "podman import failed"
	rm -f "$CACHE/pg-root.tar"
fi
pg_tag=$(cat deploy/compose-test/postgres.Containerfile deploy/compose-test/postgres-entrypoint.sh <(echo "$PG_BASE") | sha256sum | cut -c1-12)
export COMPOSE_TEST_POSTGRES_IMAGE=$IMAGES/postgres:$pg_tag
if ! podman image exists "$COMPOSE_TEST_POSTGRES_IMAGE"; then
	log "building $COMPOSE_TEST_POSTGRES_IMAGE"
	podman build --quiet --format docker --build-arg "BASE=$PG_BASE" -t "$COMPOSE_TEST_POSTGRES_IMAGE" \
		-f deploy/compose-test/postgres.Containerfile deploy/compose-test >/dev/null || die "building the postgres image failed"
	drop_other_tags "$IMAGES/postgres" "$COMPOSE_TEST_POSTGRES_IMAGE"
fi

[ -x bin/taxii-server ] || die "bin/taxii-server is missing (make build)"
rm -rf "$CACHE/taxii" && mkdir -p "$CACHE/taxii/data"
cp bin/taxii-server "$CACHE/taxii/"
taxii_tag=$(cat bin/taxii-server deploy/compose-test/taxii.Containerfile | sha256sum | cut -c1-12)
export COMPOSE_TEST_TAXII_IMAGE=$IMAGES/taxii-server:$taxii_tag
if ! podman image exists "$COMPOSE_TEST_TAXII_IMAGE"; then
	log "building $COMPOSE_TEST_TAXII_IMAGE"
	podman build --quiet --format docker -t "$COMPOSE_TEST_TAXII_IMAGE" \
		-f deploy/compose-test/taxii.Containerfile "$CACHE/taxii" >/dev/null || die "building the taxii-server image failed"
	drop_other_tags "$IMAGES/taxii-server" "$COMPOSE_TEST_TAXII_IMAGE"
fi

# --- the Docker API ----------------------------------------------------------------------------
rm -f "$STATE/podman.sock" "$STATE/stop-health"
podman system service --time=0 "unix://$STATE/podman.sock" >"$STATE/service.log" 2>&1 &
SERVICE_PID=$!
export DOCKER_HOST=unix://$STATE/podman.sock DOCKER_BUILDKIT=0
until_ok 30 "podman system service to answer on $STATE/podman.sock" \
	curl -fsS --unix-socket "$STATE/podman.sock" http://d/_ping

# Health checks: every 3 s on each container of the project (what systemd timers would do).
(
	while [ ! -e "$STATE/stop-health" ]; do
		for c in $(podman ps -q --filter "label=com.docker.compose.project=$PROJECT" 2>/dev/null); do
			[ -e "$STATE/stop-health" ] || timeout 20 podman healthcheck run "$c" >/dev/null 2>&1 || true
		done
		sleep 3
	done
) &
HEALTH_PID=$!

# --- this run's settings: the example files, with a password and a free port -------------------
RUN=$(mktemp -d "$STATE/run.XXXXXX")
export COMPOSE_TEST_DIR=$RUN
port=
for _ in $(seq 1 50); do
	p=$((20000 + RANDOM % 20000))
	if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p && break; fi
done
[ -n "$port" ] || die "no free port found"
password=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
sed -e "s/^POSTGRES_PASSWORD=.*/POSTGRES_PASSWORD=$password/" -e "s/^PUBLISH_PORT=.*/PUBLISH_PORT=$port/" \
	deploy/.env.example >"$RUN/.env"
cp deploy/taxii.env.example "$RUN/taxii.env"
BASE=http://127.0.0.1:$port

dc config --quiet || die "compose refuses deploy/docker-compose.yml + deploy/compose.test.yaml"
# Leftovers of an interrupted run (containers, volumes) would hide a first start.
dc down -v --remove-orphans >/dev/null 2>&1 || true

up() { # up WHAT: start (or create) both services and wait until both are healthy
	log "$1: compose up, waiting up to ${WAIT}s for both services to be healthy"
	timeout $((WAIT + 60)) "$COMPOSE" -p "$PROJECT" -f deploy/docker-compose.yml -f deploy/compose.test.yaml \
		--env-file "$RUN/.env" up -d --wait --wait-timeout "$WAIT" ||
		die "$1: compose up did not bring both services to healthy within ${WAIT}s"
	until_ok 30 "the TAXII API on $BASE (published port)" curl -fsS "$BASE/healthz"
}

tx() { # the README's way: the binary in the running container, no shell there
	timeout 120 "$COMPOSE" -p "$PROJECT" -f deploy/docker-compose.yml -f deploy/compose.test.yaml \
		--env-file "$RUN/.env" exec -T taxii /taxii-server "$@"
}

ACCEPT='Accept: application/taxii+json;version=2.1'
want=$(jq -c '[.objects[] | select(.type == "indicator") | .id] | sort' examples/indicators.json)

poll() { # poll WHAT: the feed's objects over TAXII are the example's indicators
	local body got
	body=$(curl -fsS --max-time 30 -u "x:$KEY" -H "$ACCEPT" "$ROOT/collections/$FEED/objects/?limit=100") ||
		die "$1: polling $ROOT/collections/$FEED/objects/ failed"
	got=$(jq -c '[.objects[]?.id] | sort' <<<"$body")
	[ "$got" = "$want" ] || die "$1: the feed holds $got, want the example's indicators $want"
	[ "$(jq -r '.more // false' <<<"$body")" = false ] || die "$1: more=true on a 4-object feed"
	log "$1: polled the feed over TAXII: $(jq 'length' <<<"$got") indicators, as imported"
}

# --- first start -------------------------------------------------------------------------------
up "first start"
for s in postgres taxii; do
	[ -n "$(dc ps -q "$s")" ] || die "service $s is not running"
done

# The first admin key: in the 0600 file in the data volume, copied out as the README says, in no log.
until_ok 30 "/data/admin-key in the taxii container" dc cp taxii:/data/admin-key -
mode=$(dc cp taxii:/data/admin-key - | tar -tvf - | awk '{print $1}')
[ "$mode" = "-rw-------" ] || die "/data/admin-key has mode $mode, want -rw-------"
ADMIN=$(dc cp taxii:/data/admin-key - | tar -xOf - | tr -d '\n')
[[ $ADMIN == tk_* ]] || die "/data/admin-key does not hold a key"
if dc logs --no-color 2>&1 | grep -qF "$ADMIN"; then die "the admin key is in the containers' logs"; fi
log "the first admin key is in /data/admin-key (0600) and in no log"

code=$(curl -sS -o /dev/null -w '%{http_code}' -H "$ACCEPT" "$BASE/taxii2/")
[ "$code" = 401 ] || die "discovery without a key answered $code, want 401"
discovery=$(curl -fsS --max-time 30 -u "x:$ADMIN" -H "$ACCEPT" "$BASE/taxii2/") ||
	die "discovery with the admin key failed"
ROOT=$(jq -r '.default // .api_roots[0] // empty' <<<"$discovery")
[ -n "$ROOT" ] || die "discovery names no API root: $discovery"
# A path without TAXII_PUBLIC_BASE_URL; no trailing slash, the paths below add theirs.
[[ $ROOT == http* ]] || ROOT=$BASE$ROOT
ROOT=${ROOT%/}
log "the admin key opens discovery; API root $ROOT"

if [ -n "$VERSION" ]; then
	v=$(tx version) || die "taxii-server version failed in the container"
	grep -qF -- "$VERSION" <<<"$v" || die "taxii-server version in the container printed '$v', want $VERSION"
fi

KEY=$(tx key create --name compose-test --role read-only | tr -d '\r\n') || die "key create failed"
[[ $KEY == tk_* ]] || die "key create printed '$KEY', want a key"
FEED=$(tx feed create --title "Indicators" --types indicator | tr -d '\r\n') || die "feed create failed"
[ -n "$FEED" ] || die "feed create printed no id"
out=$(tx import - <examples/indicators.json 2>&1) || die "import failed: $out"
grep -qE '(^|[^0-9])imported 7([^0-9]|$)' <<<"$out" || die "import printed '$out', want imported 7"
log "through exec: created a read-only key and feed $FEED, imported examples/indicators.json (7 objects)"
poll "first start"

# --- stop, start: the same containers ----------------------------------------------------------
log "compose stop"
timeout 120 "$COMPOSE" -p "$PROJECT" -f deploy/docker-compose.yml -f deploy/compose.test.yaml \
	--env-file "$RUN/.env" stop || die "compose stop failed"
[ -z "$(dc ps -q)" ] || die "containers still running after compose stop"
up "after stop"
poll "after stop and start"

# --- down (volumes kept), up: new containers on the same volumes -------------------------------
log "compose down (volumes kept)"
timeout 120 "$COMPOSE" -p "$PROJECT" -f deploy/docker-compose.yml -f deploy/compose.test.yaml \
	--env-file "$RUN/.env" down || die "compose down failed"
[ -z "$(dc ps -aq)" ] || die "containers left after compose down"
up "after down"
poll "after down and up"
again=$(dc cp taxii:/data/admin-key - | tar -xOf - | tr -d '\n')
[ "$again" = "$ADMIN" ] || die "/data/admin-key changed across down and up"
code=$(curl -sS -o /dev/null -w '%{http_code}' -u "x:$ADMIN" -H "$ACCEPT" "$BASE/taxii2/")
[ "$code" = 200 ] || die "the admin key of the first start answered $code after down and up"
log "the keys, the feed and the objects survived stop/start and down/up"

FAILED=0
