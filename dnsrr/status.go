package dnsrr

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/miekg/dns"
)

// StatusSource lists a pool's members with their health, for the CH TXT
// status names (StatusNames). The app implements it from the same data as
// the admin API's /status, so that dig and /status agree.
type StatusSource interface {
	// PoolStatus returns the members of the pool named pool (lower case,
	// fully qualified), or false when no zone loaded has that pool.
	PoolStatus(pool string) ([]MemberStatus, bool)
}

// MemberStatus is one member of a pool as /status shows it.
type MemberStatus struct {
	Addr netip.Addr
	// State is up, down, unknown (not probed yet) or static (no check).
	State      string
	Since      time.Time // when State began; zero when unknown
	Drained    bool
	DrainUntil time.Time // zero: until undrained
	// Served reports whether DNS answers with the member now.
	Served    bool
	LastError string
}

// StatusNames configures the CH TXT status names: a query of class CHAOS
// for "<Label>.<pool>" answers one TXT record per member of the pool.
type StatusNames struct {
	// Label is the first label of the names, lower case; "" turns them off.
	Label string
	// Clients may ask besides loopback, which always may.
	Clients []netip.Prefix
}

// DefaultStatusLabel is the Label of the status names unless configured.
const DefaultStatusLabel = "_status"

// MaxStatusClients bounds StatusNames.Clients: each CH query for a status
// name is checked against every prefix.
const MaxStatusClients = 1024

// statusNames is what SetStatus published.
type statusNames struct {
	StatusNames
	src StatusSource
}

// SetStatus serves the status names from src as names says, from the next
// query on (a reload may call it again).
func (s *Server) SetStatus(names StatusNames, src StatusSource) {
	names.Label = strings.ToLower(names.Label)
	s.status.Store(&statusNames{names, src})
}

// allowed reports whether client may read the status names: loopback, or
// a configured prefix. Health state says which backends are down and why;
// it is for operators, not for the world.
func (n *statusNames) allowed(client netip.Addr) bool {
	client = client.Unmap()
	if client.IsLoopback() {
		return true
	}
	for _, p := range n.Clients {
		if p.Contains(client) {
			return true
		}
	}
	return false
}

// statusPool returns the pool a CH name asks the status of, if it is a
// status name: the name less its first label, when that label is ours.
func (n *statusNames) statusPool(qname string) (string, bool) {
	if n == nil || n.Label == "" || n.src == nil {
		return "", false
	}
	label, pool, ok := strings.Cut(strings.ToLower(qname), ".")
	if !ok || label != n.Label || pool == "" {
		return "", false
	}
	return pool, true
}

// statusBudget is what the status records of one answer may take over
// TCP: a message is at most 65535 bytes, and the header, the question, the
// OPT and the record saying that more members were left out need the rest.
const statusBudget = dns.MaxMsgSize - 1024

// chaosStatus answers a CH query for a status name with one TXT record per
// member. Over UDP an answer too large for the client is truncated as any
// (respond), and the client retries over TCP; a pool too large even for
// TCP gets a last record "more=N" saying how many members were left out.
// The records have the lower-case name, so that they compress against the
// question whatever case the client asked in.
func (s *Server) chaosStatus(n *statusNames, q dns.Question, pool string, reply *dns.Msg, client netip.Addr) {
	if !n.allowed(client) || (q.Qtype != dns.TypeTXT && q.Qtype != dns.TypeANY) {
		reply.Rcode = dns.RcodeRefused
		return
	}
	members, ok := n.src.PoolStatus(pool)
	reply.Authoritative = true
	if !ok {
		// Nothing caches CHAOS answers for others, so no SOA is needed
		// for the negative answer: it only tells the operator of a typo.
		reply.Rcode = dns.RcodeNameError
		return
	}
	owner := strings.ToLower(q.Name)
	hdr := dns.RR_Header{Name: owner, Rrtype: dns.TypeTXT, Class: dns.ClassCHAOS}
	size := 0
	for i, m := range members {
		txt := statusTXT(m)
		// The owner compresses to a pointer: 2 bytes, then type, class,
		// TTL and RDLENGTH (10), then each string with its length byte.
		rrSize := 12
		for _, t := range txt {
			rrSize += 1 + len(t)
		}
		if size+rrSize > statusBudget {
			reply.Answer = append(reply.Answer, &dns.TXT{Hdr: hdr,
				Txt: []string{"more=" + strconv.Itoa(len(members)-i) + " (members left out: see the admin API's /status)"}})
			break
		}
		size += rrSize
		reply.Answer = append(reply.Answer, &dns.TXT{Hdr: hdr, Txt: txt})
	}
}

// statusTXT is a member's status as the strings of one TXT record:
//
//	"addr=192.0.2.1 state=down since=2026-12-01T07:00:00Z drained=no served=no" "last_error=connect: connection refused"
//
// The first string holds space-separated key=value fields whose values
// have no spaces (times in RFC 3339, UTC); fields without a value are left
// out (since for a static member, drain_until for a drain without expiry).
// The last probe error, if any (kept once the member is up again, as in
// /status), follows in the strings after it: "last_error=" and the
// text, cut into strings of at most 255 bytes (the most a TXT string
// holds, RFC 1035 §3.3.14) on character boundaries. Joined, they give the
// error whole.
func statusTXT(m MemberStatus) []string {
	var b strings.Builder
	b.WriteString("addr=")
	b.WriteString(m.Addr.String())
	b.WriteString(" state=")
	b.WriteString(m.State)
	if !m.Since.IsZero() {
		b.WriteString(" since=")
		b.WriteString(m.Since.UTC().Format(time.RFC3339))
	}
	b.WriteString(" drained=")
	b.WriteString(yesNo(m.Drained))
	if m.Drained && !m.DrainUntil.IsZero() {
		b.WriteString(" drain_until=")
		b.WriteString(m.DrainUntil.UTC().Format(time.RFC3339))
	}
	b.WriteString(" served=")
	b.WriteString(yesNo(m.Served))
	out := []string{b.String()}
	if m.LastError != "" {
		for _, piece := range splitTXT("last_error=" + m.LastError) {
			// miekg/dns reads TXT strings in presentation form, where a
			// backslash starts an escape.
			out = append(out, strings.ReplaceAll(piece, `\`, `\\`))
		}
	}
	return out
}

// splitTXT cuts s into TXT strings of at most 255 bytes, between
// characters: dig then shows each piece as readable text.
func splitTXT(s string) []string {
	const max = 255
	var out []string
	for len(s) > max {
		n := max
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		if n == 0 {
			n = max // not UTF-8: cut anywhere
		}
		out = append(out, s[:n])
		s = s[n:]
	}
	return append(out, s)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
