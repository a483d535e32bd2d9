// Package bench measures the server the way its users load it: a generator of
// realistic STIX 2.1 indicators, a TAXII client that pulls and polls, and the load
// benchmark that runs a real server process and prints one table of figures.
package bench

import (
	"bufio"
	"io"
	"math/rand/v2"
	"strconv"
	"time"
)

// Object sizes the generator aims at, in bytes of compact JSON.
const (
	MinObjectSize = 500
	MaxObjectSize = 700
)

// genEpoch is the created time of indicator 0; later indices are later, about
// 30 s apart, so a million indicators span a year, as a real feed's history does.
var genEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()

// Generator makes valid STIX 2.1 indicators, each a pure function of (seed, index):
// any range can be produced again, in any order, without holding the set.
// A Generator is not safe for concurrent use; make one per goroutine.
type Generator struct {
	seed uint64
	pcg  *rand.PCG
	rng  *rand.Rand
	tail []byte
}

// NewGenerator returns a generator of the data set named by seed.
func NewGenerator(seed uint64) *Generator {
	pcg := rand.NewPCG(0, 0)
	return &Generator{seed: seed, pcg: pcg, rng: rand.New(pcg)}
}

// splitmix64 spreads neighbouring indices over the whole seed space.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// WriteLines writes indicators [from, from+n) to w, one compact JSON object per
// line (a format `taxii-server import` reads), and returns the bytes written.
func (g *Generator) WriteLines(w io.Writer, from, n int) (int64, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	var written int64
	var buf []byte
	for i := from; i < from+n; i++ {
		buf = g.Append(buf[:0], i)
		buf = append(buf, '\n')
		m, err := bw.Write(buf)
		written += int64(m)
		if err != nil {
			return written, err
		}
	}
	return written, bw.Flush()
}

// AppendEnvelope appends a TAXII envelope {"objects":[...]} of indicators [from, from+n).
func (g *Generator) AppendEnvelope(b []byte, from, n int) []byte {
	b = append(b, `{"objects":[`...)
	for i := from; i < from+n; i++ {
		if i > from {
			b = append(b, ',')
		}
		b = g.Append(b, i)
	}
	return append(b, "]}"...)
}

// indicatorDraw holds the random choices of one indicator, drawn before any
// rendering so that dropping an optional property never shifts the others.
type indicatorDraw struct {
	size               float64 // where in the sizes left the indicator falls, [0, 1)
	target             int
	uuidHi, uuidLo     uint64
	created, modified  int64
	kind               int
	pattern, name      []byte
	identity           string
	validDays          int
	labelFirst, labelN int
	confidence         int
	lockheed           bool
	phase              string
	source             int
	sourceID           int
	marking            string
	optional           uint8 // optional properties wanted, optXxx bits
}

const (
	optKillChain = 1 << iota // kill_chain_phases
	optRefs                  // external_references
	optTypes                 // indicator_types
	optUntil                 // valid_until
	optMarkings              // object_marking_refs
)

// minDescription is the shortest description an indicator gets.
const minDescription = 24

// Append appends indicator i as compact JSON, between MinObjectSize and
// MaxObjectSize bytes long. Every string it writes needs no JSON escaping.
func (g *Generator) Append(b []byte, i int) []byte {
	g.pcg.Seed(g.seed^splitmix64(uint64(i)), splitmix64(uint64(i)^0x5851f42d4c957f2d))
	r := g.rng
	d := indicatorDraw{size: r.Float64(), uuidHi: r.Uint64(), uuidLo: r.Uint64()}
	d.created = genEpoch + int64(i)*30_000 + r.Int64N(30_000)
	d.modified = d.created
	if r.IntN(2) == 0 {
		d.modified += r.Int64N(10 * 24 * 3600 * 1000)
	}
	d.kind = r.IntN(len(patternKinds))
	d.pattern, d.name = patternKinds[d.kind].make(r)
	d.identity = identities[r.IntN(len(identities))]
	d.validDays = 30 + r.IntN(335)
	d.labelFirst, d.labelN = r.IntN(len(labels)), 1+r.IntN(2)
	d.confidence = confidences[r.IntN(len(confidences))]
	if d.lockheed = r.IntN(3) == 0; d.lockheed {
		d.phase = lockheedPhases[r.IntN(len(lockheedPhases))]
	} else {
		d.phase = attackPhases[r.IntN(len(attackPhases))]
	}
	d.source, d.sourceID = r.IntN(len(sources)), 100000+r.IntN(900000)
	d.marking = tlpMarkings[r.IntN(len(tlpMarkings))]
	for bit, p := range []int{80, 30, 60, 30, 50} { // percent of indicators that want each
		if r.IntN(100) < p {
			d.optional |= 1 << bit
		}
	}

	start := len(b)
	b = d.appendHead(b)
	// Optional properties go, markings first, kill chain last, while the indicator
	// would exceed MaxObjectSize; the description then fills it to its target size.
	const descKey = `,"description":""`
	t := d.appendTail(g.tail[:0])
	fixed := func() int { return len(b) - start + len(descKey) + minDescription + len(t) }
	for bit := uint8(optMarkings); bit != 0 && fixed() > MaxObjectSize; bit >>= 1 {
		if d.optional&bit != 0 {
			d.optional &^= bit
			t = d.appendTail(t[:0])
		}
	}
	g.tail = t
	lo := max(MinObjectSize, fixed())
	d.target = lo + int(d.size*float64(MaxObjectSize-lo+1))
	room := d.target - (len(b) - start) - len(t) - len(descKey)
	b = append(b, descKey[:len(descKey)-1]...)
	b = appendDescription(b, r, max(room, minDescription))
	b = append(b, '"')
	return append(b, t...)
}

// appendHead appends everything before the description.
func (d *indicatorDraw) appendHead(b []byte) []byte {
	b = append(b, `{"type":"indicator","spec_version":"2.1","id":"indicator--`...)
	b = appendUUID(b, d.uuidHi, d.uuidLo)
	b = append(b, `","created_by_ref":"`...)
	b = append(b, d.identity...)
	b = append(b, `","created":"`...)
	b = appendMillis(b, d.created)
	b = append(b, `","modified":"`...)
	b = appendMillis(b, d.modified)
	b = append(b, `","name":"`...)
	b = append(b, d.name...)
	return append(b, '"')
}

// appendTail appends everything after the description, optional properties included.
func (d *indicatorDraw) appendTail(t []byte) []byte {
	if d.optional&optTypes != 0 {
		t = append(t, `,"indicator_types":["`...)
		t = append(t, patternKinds[d.kind].indicatorType...)
		t = append(t, `"]`...)
	}
	t = append(t, `,"pattern":"`...)
	t = append(t, d.pattern...)
	t = append(t, `","pattern_type":"stix","valid_from":"`...)
	t = appendMillis(t, d.created)
	t = append(t, '"')
	if d.optional&optUntil != 0 {
		t = append(t, `,"valid_until":"`...)
		t = appendMillis(t, d.created+int64(d.validDays)*24*3600*1000)
		t = append(t, '"')
	}
	t = append(t, `,"labels":[`...)
	for k := range d.labelN {
		if k > 0 {
			t = append(t, ',')
		}
		t = append(t, '"')
		t = append(t, labels[(d.labelFirst+k*3)%len(labels)]...)
		t = append(t, '"')
	}
	t = append(t, `],"confidence":`...)
	t = strconv.AppendInt(t, int64(d.confidence), 10)
	if d.optional&optKillChain != 0 {
		t = append(t, `,"kill_chain_phases":[{"kill_chain_name":"`...)
		if d.lockheed {
			t = append(t, `lockheed-martin-cyber-kill-chain`...)
		} else {
			t = append(t, `mitre-attack`...)
		}
		t = append(t, `","phase_name":"`...)
		t = append(t, d.phase...)
		t = append(t, `"}]`...)
	}
	if d.optional&optRefs != 0 {
		src := sources[d.source]
		t = append(t, `,"external_references":[{"source_name":"`...)
		t = append(t, src.name...)
		t = append(t, `","url":"`...)
		t = append(t, src.url...)
		t = strconv.AppendInt(t, int64(d.sourceID), 10)
		t = append(t, `/"}]`...)
	}
	if d.optional&optMarkings != 0 {
		t = append(t, `,"object_marking_refs":["`...)
		t = append(t, d.marking...)
		t = append(t, `"]`...)
	}
	return append(t, '}')
}

// appendDescription appends prose of exactly n bytes (n >= minDescription), ending
// with a word of the length that is left and a full stop.
func appendDescription(b []byte, r *rand.Rand, n int) []byte {
	end := len(b) + n - 1 // where the full stop goes
	w := descOpenings[r.IntN(len(descOpenings))]
	if len(w)+1 > n-len(finalWords) {
		w = shortOpenings[r.IntN(len(shortOpenings))]
	}
	for end-len(b) >= len(finalWords) {
		if left := end - len(b); len(w)+1 > left-1 {
			w = "the"
		}
		b = append(b, w...)
		b = append(b, ' ')
		w = descWords[r.IntN(len(descWords))]
	}
	b = append(b, finalWords[end-len(b)]...)
	return append(b, '.')
}

// finalWords[k] is k bytes long: the last word of a description, sized to fit.
var finalWords = []string{"", "a", "an", "the", "seen", "again", "report", "samples", "activity", "indicator", "monitoring", "corroborate", "confirmation"}

const hexDigits = "0123456789abcdef"

func appendUUID(b []byte, hi, lo uint64) []byte {
	hi = hi&^(0xf<<12) | 0x4<<12 // version 4
	lo = lo&^(0x3<<62) | 0x2<<62 // RFC 4122 variant
	var raw [16]byte
	for k := range 8 {
		raw[k] = byte(hi >> (56 - 8*k))
		raw[8+k] = byte(lo >> (56 - 8*k))
	}
	for k, c := range raw {
		if k == 4 || k == 6 || k == 8 || k == 10 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return b
}

func appendHex(b []byte, r *rand.Rand, digits int) []byte {
	for range digits {
		b = append(b, hexDigits[r.IntN(16)])
	}
	return b
}

func appendMillis(b []byte, ms int64) []byte {
	return time.UnixMilli(ms).UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
}

type patternKind struct {
	indicatorType string
	make          func(r *rand.Rand) (pattern, name []byte)
}

var patternKinds = []patternKind{
	{"malicious-activity", func(r *rand.Rand) ([]byte, []byte) { // IPv4 address
		ip := appendIPv4(nil, r)
		return append(append([]byte("[ipv4-addr:value = '"), ip...), "']"...),
			append([]byte("Malicious IP "), ip...)
	}},
	{"malicious-activity", func(r *rand.Rand) ([]byte, []byte) { // IPv4 and port
		ip := appendIPv4(nil, r)
		p := append(append([]byte("[ipv4-addr:value = '"), ip...), "'] AND [network-traffic:dst_port = "...)
		p = strconv.AppendInt(p, int64(ports[r.IntN(len(ports))]), 10)
		return append(p, ']'), append([]byte("C2 server "), ip...)
	}},
	{"malicious-activity", func(r *rand.Rand) ([]byte, []byte) { // domain
		d := appendDomain(nil, r)
		return append(append([]byte("[domain-name:value = '"), d...), "']"...),
			append([]byte("Malicious domain "), d...)
	}},
	{"compromised", func(r *rand.Rand) ([]byte, []byte) { // URL
		u := append([]byte("http://"), appendDomain(nil, r)...)
		u = append(u, '/')
		u = append(u, urlPaths[r.IntN(len(urlPaths))]...)
		u = append(u, "?id="...)
		u = strconv.AppendInt(u, int64(r.IntN(100000)), 10)
		return append(append([]byte("[url:value = '"), u...), "']"...),
			append([]byte("Phishing URL on "), u[7:min(len(u), 40)]...)
	}},
	{"malicious-activity", func(r *rand.Rand) ([]byte, []byte) { // SHA-256
		h := appendHex(nil, r, 64)
		return append(append([]byte("[file:hashes.'SHA-256' = '"), h...), "']"...),
			append(append([]byte(families[r.IntN(len(families))]), " sample "...), h[:12]...)
	}},
	{"malicious-activity", func(r *rand.Rand) ([]byte, []byte) { // MD5 or SHA-1 of the same file
		md5, sha1 := appendHex(nil, r, 32), appendHex(nil, r, 40)
		p := append(append([]byte("[file:hashes.MD5 = '"), md5...), "' OR file:hashes.'SHA-1' = '"...)
		p = append(append(p, sha1...), "']"...)
		return p, append(append([]byte(families[r.IntN(len(families))]), " dropper "...), md5[:12]...)
	}},
}

func appendIPv4(b []byte, r *rand.Rand) []byte {
	// Public-looking first octets; the value is what a feed would carry.
	b = strconv.AppendInt(b, int64(firstOctets[r.IntN(len(firstOctets))]), 10)
	for range 3 {
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(r.IntN(256)), 10)
	}
	return b
}

func appendDomain(b []byte, r *rand.Rand) []byte {
	if r.IntN(3) == 0 {
		b = append(b, subdomains[r.IntN(len(subdomains))]...)
		b = append(b, '.')
	}
	b = append(b, domainWords[r.IntN(len(domainWords))]...)
	b = append(b, '-')
	b = append(b, domainWords[r.IntN(len(domainWords))]...)
	b = strconv.AppendInt(b, int64(r.IntN(1000)), 10)
	b = append(b, '.')
	return append(b, tlds[r.IntN(len(tlds))]...)
}

var (
	identities = []string{
		"identity--f431f809-377b-45e0-aa1c-6a4751cae5ff",
		"identity--b3bca3c2-1f3d-4b54-b44f-dac42c3a8f01",
		"identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
		"identity--733c5838-34d9-4fbf-949c-62aba761184c",
		"identity--c78cb6e5-0c4b-4611-8297-d1b8b55e40b5",
	}
	tlpMarkings = []string{
		"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", // TLP:WHITE
		"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", // TLP:GREEN
		"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
		"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", // TLP:AMBER
	}
	sources = []struct{ name, url string }{
		{"urlhaus", "https://urlhaus.abuse.ch/url/"},
		{"bazaar", "https://bazaar.abuse.ch/sample/"},
		{"otx", "https://otx.alienvault.com/pulse/"},
		{"inthreat", "https://intel.inthreat.example/r/"},
	}
	labels         = []string{"phishing", "c2", "botnet", "ransomware", "loader", "stealer", "scanner", "exploit-kit", "spam", "tor-exit", "rat", "miner"}
	confidences    = []int{15, 30, 50, 60, 70, 75, 80, 85, 90, 95, 100}
	lockheedPhases = []string{"reconnaissance", "weaponization", "delivery", "exploitation", "installation", "command-and-control", "actions-on-objectives"}
	attackPhases   = []string{"initial-access", "execution", "persistence", "privilege-escalation", "defense-evasion", "credential-access", "discovery", "lateral-movement", "collection", "command-and-control", "exfiltration", "impact"}
	firstOctets    = []int{5, 23, 31, 37, 45, 46, 62, 77, 78, 79, 80, 81, 85, 89, 91, 92, 93, 94, 95, 103, 104, 107, 109, 139, 141, 146, 154, 161, 176, 178, 185, 188, 193, 194, 195, 198, 203, 212, 213, 217}
	ports          = []int{80, 443, 445, 1080, 2222, 4444, 4782, 5552, 6667, 8080, 8443, 9001, 31337}
	subdomains     = []string{"www", "cdn", "mail", "login", "secure", "api", "update", "portal", "account"}
	domainWords    = []string{"micro", "soft", "cloud", "secure", "verify", "update", "office", "bank", "pay", "login", "drive", "share", "docs", "mail", "track", "parcel", "invoice", "support", "service", "online", "account", "auth", "sync", "web", "net", "data", "file", "box", "store", "shop"}
	tlds           = []string{"com", "net", "org", "info", "biz", "xyz", "top", "online", "site", "ru", "cn", "io", "cc", "tk", "club"}
	urlPaths       = []string{"gate.php", "login/index.php", "wp-admin/css/update.php", "invoice/view.html", "files/payload.bin", "dl/setup.exe", "api/v1/beacon", "panel/admin.php", "secure/verify.html", "docs/share.php"}
	families       = []string{"Emotet", "QakBot", "IcedID", "AgentTesla", "FormBook", "LokiBot", "RedLine", "AsyncRAT", "Remcos", "CobaltStrike", "LockBit", "Amadey"}
	descOpenings   = []string{"Observed in a phishing campaign delivering a loader;", "Infrastructure reported by several sensors;", "Seen in sandbox detonations of malicious documents;", "Shared by a trusted partner after an incident;", "Automatically extracted from malware configuration;", "Hosting a credential harvesting page;"}
	shortOpenings  = []string{"Seen in phishing;", "Active C2;", "Sandbox hit;", "Partner report;", "Botnet node;"}
	descWords      = []string{"the", "indicator", "was", "observed", "in", "traffic", "from", "multiple", "hosts", "during", "a", "campaign", "targeting", "finance", "and", "healthcare", "organisations", "with", "malicious", "attachments", "that", "download", "a", "second", "stage", "payload", "contacting", "command", "servers", "over", "encrypted", "channels", "analysts", "recommend", "blocking", "at", "the", "perimeter", "and", "hunting", "for", "related", "activity", "on", "endpoints", "confidence", "is", "based", "on", "corroboration", "by", "independent", "sources"}
)
