package bench

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
)

// cpuMeter reads the CPU time of the three parties of a measurement: the server
// process, the Postgres backends serving the benchmark's database (when Postgres
// runs on this machine), and this process, the client. On a shared machine CPU
// per object is steadier than a rate, and the three tell where the time goes.
type cpuMeter struct {
	server int
	db     *pgx.Conn // nil: database CPU unknown
}

type cpuSample struct {
	server, client     time.Duration
	db                 map[int32]time.Duration // by backend pid
	serverOK, clientOK bool
}

// cpuUse is CPU spent over some objects.
type cpuUse struct {
	server, db, client       time.Duration
	serverOK, dbOK, clientOK bool
	objects                  int
}

func (u cpuUse) String() string {
	per := func(d time.Duration, ok bool) string {
		if !ok || u.objects == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", float64(d.Nanoseconds())/1e3/float64(u.objects))
	}
	return fmt.Sprintf("server %s, database %s, client %s", per(u.server, u.serverOK), per(u.db, u.dbOK), per(u.client, u.clientOK))
}

func (u *cpuUse) add(o cpuUse) {
	first := u.objects == 0
	u.server += o.server
	u.db += o.db
	u.client += o.client
	u.objects += o.objects
	u.serverOK = o.serverOK && (first || u.serverOK)
	u.dbOK = o.dbOK && (first || u.dbOK)
	u.clientOK = o.clientOK && (first || u.clientOK)
}

// newCPUMeter measures server pid, and the backends of the deployment's own
// Postgres database when that server is on loopback.
func newCPUMeter(ctx context.Context, server int, d *deployment) *cpuMeter {
	m := &cpuMeter{server: server}
	if d.kind != "postgres" || !d.ownDatabase {
		return m
	}
	u, err := url.Parse(d.pgURL)
	if err != nil {
		return m
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return m
	}
	if m.db, err = pgx.Connect(ctx, d.pgURL); err != nil {
		m.db = nil
	}
	return m
}

func (m *cpuMeter) close() {
	if m.db != nil {
		_ = m.db.Close(context.Background())
	}
}

func (m *cpuMeter) sample(ctx context.Context) cpuSample {
	var s cpuSample
	var err error
	s.client, err = selfCPU()
	s.clientOK = err == nil
	if m.server > 0 {
		s.server, err = procCPU(m.server)
		s.serverOK = err == nil
	}
	s.db = m.dbCPU(ctx)
	return s
}

// dbCPU reads the CPU time of each backend connected to the benchmark's
// database; nil when that cannot be done.
func (m *cpuMeter) dbCPU(ctx context.Context) map[int32]time.Duration {
	if m.db == nil {
		return nil
	}
	rows, err := m.db.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		return nil
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil
	}
	cpu := make(map[int32]time.Duration, len(pids))
	for _, pid := range pids {
		d, err := procCPU(int(pid))
		if err != nil {
			return nil // not this machine's Postgres, or not ours to read
		}
		cpu[pid] = d
	}
	return cpu
}

// since is the CPU used from s0 to now, over objects.
func (m *cpuMeter) since(ctx context.Context, s0 cpuSample, objects int) cpuUse {
	s1 := m.sample(ctx)
	// Backends are matched by pid: one that started meanwhile counts from zero,
	// one that ended took its time with it (the server's pool keeps its own).
	var db time.Duration
	for pid, d := range s1.db {
		db += d - s0.db[pid]
	}
	return cpuUse{
		server: s1.server - s0.server, db: db, client: s1.client - s0.client,
		serverOK: s0.serverOK && s1.serverOK, dbOK: s0.db != nil && s1.db != nil, clientOK: s0.clientOK && s1.clientOK,
		objects: objects,
	}
}

// dbTracker follows the backends of the benchmark's database over a phase in
// which connections come and go (an import process has its own): it polls their
// CPU time and keeps each one's last reading.
type dbTracker struct {
	stopc chan struct{}
	done  chan struct{}
	total time.Duration
	ok    bool
}

// trackDatabase starts following the database's backends until stop.
func (m *cpuMeter) trackDatabase(ctx context.Context) *dbTracker {
	t := &dbTracker{stopc: make(chan struct{}), done: make(chan struct{})}
	if m.db == nil {
		close(t.done)
		return t
	}
	go func() {
		defer close(t.done)
		first := map[int32]time.Duration{} // CPU at the first reading, for backends that predate the phase
		last := map[int32]time.Duration{}
		seenAtStart := true
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			rows, err := m.db.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
			if err == nil {
				pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
				if err == nil {
					for _, pid := range pids {
						d, err := procCPU(int(pid))
						if err != nil {
							continue
						}
						if _, ok := last[pid]; !ok && seenAtStart {
							first[pid] = d
						}
						last[pid] = d
					}
					seenAtStart = false
					t.ok = true
				}
			}
			select {
			case <-t.stopc:
				for pid, d := range last {
					t.total += d - first[pid]
				}
				return
			case <-ctx.Done():
				t.ok = false
				return
			case <-tick.C:
			}
		}
	}()
	return t
}

// stop ends the phase and returns the CPU the backends used in it (the last
// 50 ms of a backend that ended are lost), and whether it could be measured.
func (t *dbTracker) stop() (time.Duration, bool) {
	select {
	case <-t.done:
	default:
		close(t.stopc)
		<-t.done
	}
	return t.total, t.ok
}
