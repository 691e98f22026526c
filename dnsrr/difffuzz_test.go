package dnsrr

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dnsrr/dnsrr/dnsrr/rrl"
	"github.com/dnsrr/dnsrr/zones"
	"github.com/miekg/dns"
	"github.com/rs/zerolog"
)

// FuzzFastPathMatchesFullPath is the differential test of the two answer
// paths: the fuzzer's bytes make a zone (a master file or a TOML zone with
// checked pools), a health state, a policy (cookies, NSID) and a sequence
// of queries and health changes. Every query is answered by answerPacket
// (the fast path when it can, as the UDP and TCP loops do) and by
// answerSlow (the full path alone); the replies must be equal up to the
// order of records in each section (pools are shuffled), and count alike
// for rate limiting and cookies. A difference prints the zone, the health
// state and the query, enough to reproduce it by hand.
//
// Generation is deterministic from the bytes, and bytes past the end read
// as 0, so every input makes a zone and some queries.
func FuzzFastPathMatchesFullPath(f *testing.F) {
	for _, seed := range diffFuzzSeeds() {
		f.Add(seed)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		runDiffFuzz(t, dir, data, nil)
	})
}

// diffStats counts what inputs made, to see that the seeds cover every
// kind of name and that the fast path answers a fair share.
type diffStats struct {
	kinds                      [genKinds]int
	toml, health, child        int
	poolKeys                   map[string]int // TOML pools holding each key
	queries, fast, healthSteps int
}

// The seed corpus makes every kind of name, in both formats, with and
// without health, and the fast path answers many of its queries: a
// generator that stopped reaching the fast path would compare nothing.
func TestDiffFuzzSeedsCover(t *testing.T) {
	st := diffStats{poolKeys: map[string]int{}}
	dir := t.TempDir()
	for _, seed := range diffFuzzSeeds() {
		runDiffFuzz(t, dir, seed, &st)
	}
	t.Logf("%+v", st)
	for k, n := range st.kinds {
		if n == 0 {
			t.Errorf("no %s name in any seed", genKindNames[k])
		}
	}
	if st.toml == 0 || st.toml == len(diffFuzzSeeds()) || st.health == 0 || st.healthSteps == 0 || st.child == 0 {
		t.Errorf("seeds: %d in TOML, %d with health (%d changes), %d with a child zone, of %d",
			st.toml, st.health, st.healthSteps, st.child, len(diffFuzzSeeds()))
	}
	for _, key := range []string{"order", "max_answers", "weights", "sticky", "check", "min_healthy", "on_all_down", "ttl_degraded"} {
		if st.poolKeys[key] == 0 {
			t.Errorf("no pool with %s in any seed", key)
		}
	}
	if st.fast < st.queries/4 {
		t.Errorf("the fast path answered %d of %d queries", st.fast, st.queries)
	}
}

// fuzzInput reads the fuzzer's bytes as a sequence of choices.
type fuzzInput struct {
	b   []byte
	off int
}

func (in *fuzzInput) next() byte {
	if in.off >= len(in.b) {
		return 0
	}
	c := in.b[in.off]
	in.off++
	return c
}

// intn is a choice among n ≤ 256 options.
func (in *fuzzInput) intn(n int) int { return int(in.next()) % n }

// chance is true one time in n, and false once the input is used up.
func (in *fuzzInput) chance(n int) bool { return in.more() && in.intn(n) == 0 }

func (in *fuzzInput) more() bool { return in.off < len(in.b) }

// pick is one element of list.
func pick[T any](in *fuzzInput, list []T) T { return list[in.intn(len(list))] }

// genKind is what a generated name holds.
type genKind uint8

const (
	genEmpty    genKind = iota // an empty non-terminal
	genData                    // TXT, MX, SRV, CAA, PTR, a few addresses, unknown types
	genPool                    // A and AAAA pools of 1 to 20 members
	genCNAME                   // a CNAME: to a name, a chain, itself, out of the zone
	genDNAME                   // a DNAME
	genCut                     // a delegation, with glue and maybe DS
	genWildcard                // *.parent, holding data, a pool or a CNAME
	genGlue                    // an address of a delegation's name server
	genKinds
)

var genKindNames = [...]string{"empty", "data", "pool", "cname", "dname", "cut", "wildcard", "glue"}

const diffOrigin = "f.test."

// diffLabels are the labels names are made of: upper case, the longest
// label, and (in master files, where escapes are allowed) characters that
// presentation form escapes.
var diffLabels = []string{"www", "a", "b", "Mail", "x-1", "_tcp", "API", "Sub",
	strings.Repeat("l", 63), "M" + strings.Repeat("x", 62), `a\.b`, `sp\032ce`, `caf\195\169`, `\(q\)`}

// genName is one owner name of the generated zone.
type genName struct {
	rel  string // relative to the origin, as written ("@" for the apex)
	fqdn string // fully qualified, lower case, escapes as written
	kind genKind
	sets []genSet
	// pool: its addresses are a TOML [pools] entry, with poolOpts (order,
	// check, policy).
	pool     bool
	poolOpts []string
}

type genSet struct {
	typ  uint16
	ttl  uint32
	data []string // presentation form; TXT: the text alone
}

type genZone struct {
	toml    bool
	soaTTL  uint32
	soaMin  uint32
	names   []*genName
	byFQDN  map[string]*genName
	address []netip.Addr // every pool member, for health changes
}

var diffTTLs = []uint32{0, 30, 300, 3600, 2147483647}

// diffMember is pool member i (0..47): 24 IPv4 and 24 IPv6 addresses, so
// that pools share members and one health change touches several. In
// master files one is IPv4-mapped (a drain of 192.0.2.1 covers it).
func diffMember(i int, master bool) netip.Addr {
	switch {
	case i < 24:
		return netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + i)})
	case i == 24 && master:
		return netip.MustParseAddr("::ffff:192.0.2.1")
	}
	return netip.MustParseAddr(fmt.Sprintf("2001:db8::%x", i-23))
}

func (z *genZone) add(rel string, kind genKind) *genName {
	fqdn := diffOrigin
	if rel != "@" {
		fqdn = strings.ToLower(rel) + "." + diffOrigin
	}
	if z.byFQDN[fqdn] != nil || len(fqdn) > 200 {
		return nil // room is left for the labels queries add
	}
	n := &genName{rel: rel, fqdn: fqdn, kind: kind}
	z.names = append(z.names, n)
	z.byFQDN[fqdn] = n
	return n
}

// label is a label for a new name; TOML zones take no escapes.
func (z *genZone) label(in *fuzzInput) string {
	l := pick(in, diffLabels)
	if z.toml && strings.Contains(l, `\`) {
		l = diffLabels[len(l)%4]
	}
	return l
}

// child is rel's child label (rel "@" is the apex).
func child(label, rel string) string {
	if rel == "@" {
		return label
	}
	return label + "." + rel
}

// mayHaveChildren: names below a delegation, a DNAME or a wildcard are
// forbidden or glue, made with their delegation.
func (n *genName) mayHaveChildren() bool {
	switch n.kind {
	case genCut, genDNAME, genWildcard, genGlue:
		return false
	}
	return true
}

// genDiffZone makes a zone from the input: the apex, its name server, and
// up to 16 names of every kind, then their data (targets are chosen among
// all the names, so chains and loops arise).
func genDiffZone(in *fuzzInput, toml bool) *genZone {
	z := &genZone{toml: toml, byFQDN: map[string]*genName{}}
	z.soaTTL, z.soaMin = pick(in, diffTTLs), pick(in, diffTTLs[:4])
	z.add("@", genData)
	z.add("ns1", genGlue).sets = []genSet{{typ: dns.TypeA, ttl: 3600, data: []string{"192.0.2.250"}}}
	count := 1 + in.intn(16)
	for range count {
		var parents []*genName
		for _, n := range z.names {
			if n.mayHaveChildren() {
				parents = append(parents, n)
			}
		}
		parent := pick(in, parents)
		kind := genKind(1 + in.intn(int(genWildcard)))
		if in.chance(4) { // an empty non-terminal in between
			if ent := z.add(child(z.label(in), parent.rel), genEmpty); ent != nil {
				parent = ent
			}
		}
		rel := child(z.label(in), parent.rel)
		if kind == genWildcard {
			rel = child("*", parent.rel)
		}
		z.add(rel, kind)
	}
	for _, n := range slices.Clone(z.names) {
		z.fill(in, n)
	}
	return z
}

// fill makes the records of n.
func (z *genZone) fill(in *fuzzInput, n *genName) {
	ttl := pick(in, diffTTLs)
	switch n.kind {
	case genData:
		for range 1 + in.intn(3) {
			z.addData(in, n, ttl)
		}
	case genPool:
		z.addPool(in, n, ttl)
	case genCNAME:
		n.sets = append(n.sets, genSet{typ: dns.TypeCNAME, ttl: ttl, data: []string{z.anyTarget(in)}})
	case genDNAME:
		target := z.anyTarget(in)
		if in.chance(16) {
			target = "."
		}
		n.sets = append(n.sets, genSet{typ: dns.TypeDNAME, ttl: ttl, data: []string{target}})
	case genCut:
		z.addCut(in, n, ttl)
	case genWildcard:
		switch in.intn(3) {
		case 0:
			z.addData(in, n, ttl)
		case 1:
			z.addPool(in, n, ttl)
		default:
			n.sets = append(n.sets, genSet{typ: dns.TypeCNAME, ttl: ttl, data: []string{z.anyTarget(in)}})
		}
	}
}

// addData adds one set of data to n (never a second set of a type).
func (z *genZone) addData(in *fuzzInput, n *genName, ttl uint32) {
	var s genSet
	switch in.intn(9) {
	case 0, 1: // TXT, sometimes a set too large for 512 or 1232 bytes
		s = genSet{typ: dns.TypeTXT}
		count, size := 1+in.intn(2), 1+in.intn(40)
		if in.chance(3) {
			count, size = 3+in.intn(6), 200
		}
		for i := range count {
			s.data = append(s.data, fmt.Sprintf("t%d-%s", i, strings.Repeat("x", size)))
		}
	case 2:
		s = genSet{typ: dns.TypeMX}
		for i := range 1 + in.intn(2) {
			s.data = append(s.data, fmt.Sprintf("%d %s", 10*i, z.hostTarget(in)))
		}
	case 3:
		s = genSet{typ: dns.TypeSRV, data: []string{"0 5 443 " + z.hostTarget(in)}}
	case 4:
		s = genSet{typ: dns.TypeCAA, data: []string{`0 issue "ca.example"`}}
	case 5:
		s = genSet{typ: dns.TypePTR, data: []string{z.anyTarget(in)}}
	case 6: // a few addresses: a pool without a [pools] entry
		s = genSet{typ: dns.TypeA}
		first := in.intn(24)
		for i := range 1 + in.intn(3) {
			s.data = append(s.data, diffMember((first+i)%24, !z.toml).String())
		}
		for _, rr := range s.data {
			z.address = append(z.address, netip.MustParseAddr(rr))
		}
	default: // unknown types; 65534 is the fast path's NODATA probe
		if z.toml {
			return
		}
		s = genSet{typ: pick(in, []uint16{65000, nodataProbe}), data: []string{`\# 2 0102`}}
	}
	for _, have := range n.sets {
		if have.typ == s.typ {
			return
		}
	}
	s.ttl = ttl
	n.sets = append(n.sets, s)
}

// addPool adds A and AAAA pools to n, with a TOML pool's options.
func (z *genZone) addPool(in *fuzzInput, n *genName, ttl uint32) {
	families := 1 + in.intn(3) // A, AAAA or both
	for fam := range 2 {
		if families&(1<<fam) == 0 {
			continue
		}
		s := genSet{typ: dns.TypeA, ttl: ttl}
		if fam == 1 {
			s.typ = dns.TypeAAAA
		}
		count, first := 1+in.intn(20), in.intn(24)
		for i := range count {
			a := diffMember(24*fam+(first+i)%24, !z.toml)
			s.data = append(s.data, a.String())
			z.address = append(z.address, a)
		}
		n.sets = append(n.sets, s)
	}
	n.pool = true
	if !z.toml {
		return
	}
	o := in.intn(4)
	sticky := in.chance(4)
	switch {
	case sticky: // a sticky pool has no order of its own
		n.poolOpts = append(n.poolOpts, `sticky = "client"`)
	case o > 0:
		n.poolOpts = append(n.poolOpts, fmt.Sprintf("order = %q", []string{"random", "cyclic", "fixed"}[o-1]))
	}
	switch {
	case (o == 3 || sticky) && in.chance(2):
		// Only in file order, or per client, do both paths keep the same
		// members; a random or rotating choice differs from one answer to
		// the next.
		n.poolOpts = append(n.poolOpts, fmt.Sprintf("max_answers = %d", 1+in.intn(4)))
	case (sticky || o <= 1) && in.chance(3): // weights act on random and sticky pools
		var weights []string
		for _, s := range n.sets {
			for i := range min(len(s.data), 1+in.intn(3)) {
				weights = append(weights, fmt.Sprintf("%q = %d", s.data[i], 1+in.intn(250)*4))
			}
		}
		n.poolOpts = append(n.poolOpts, "weights = { "+strings.Join(weights, ", ")+" }")
	}
	c := in.intn(3)
	if c == 0 {
		return // a policy needs a check
	}
	n.poolOpts = append(n.poolOpts, fmt.Sprintf("check = %q", []string{"web", "api"}[c-1]))
	switch in.intn(4) {
	case 1:
		n.poolOpts = append(n.poolOpts, fmt.Sprintf("min_healthy = %d", 1+in.intn(4)))
	case 2:
		n.poolOpts = append(n.poolOpts, "min_healthy = 0.5")
	}
	if p := in.intn(3); p > 0 {
		n.poolOpts = append(n.poolOpts, fmt.Sprintf("on_all_down = %q", []string{"none", "servfail"}[p-1]))
	}
	if ttl > 1 && in.chance(3) {
		n.poolOpts = append(n.poolOpts, fmt.Sprintf("ttl_degraded = %d", 1+uint32(in.next())%(ttl-1)))
		if in.chance(2) {
			n.poolOpts = append(n.poolOpts, "ttl_degraded_drains = true")
		}
	}
}

// addCut delegates n: NS records naming glue below it, the glue of
// another delegation, an address name of the zone or a name outside it;
// sometimes DS.
func (z *genZone) addCut(in *fuzzInput, n *genName, ttl uint32) {
	ns := genSet{typ: dns.TypeNS, ttl: ttl}
	for i := range 1 + in.intn(2) {
		switch in.intn(4) {
		case 0, 1:
			glue := z.add(child(fmt.Sprintf("ns%d", i+1), n.rel), genGlue)
			if glue == nil {
				continue
			}
			glue.sets = append(glue.sets, genSet{typ: dns.TypeA, ttl: ttl, data: []string{fmt.Sprintf("198.51.100.%d", len(z.names))}})
			if in.chance(2) {
				glue.sets = append(glue.sets, genSet{typ: dns.TypeAAAA, ttl: ttl, data: []string{fmt.Sprintf("2001:db8:1::%d", len(z.names))}})
			}
			ns.data = append(ns.data, glue.fqdn)
		case 2:
			var hosts []string
			for _, h := range z.names {
				if h.kind == genGlue || (h.kind == genPool || h.kind == genData) && h.hasAddress() {
					hosts = append(hosts, h.fqdn)
				}
			}
			if len(hosts) > 0 {
				ns.data = append(ns.data, pick(in, hosts))
			}
		default:
			ns.data = append(ns.data, "ns.other.test.")
		}
	}
	ns.data = slices.Compact(ns.data) // names from one list: equal ones are adjacent or not at all
	if len(ns.data) == 0 {
		ns.data = []string{"ns.other.test."}
	}
	n.sets = append(n.sets, ns)
	if in.chance(2) {
		n.sets = append(n.sets, genSet{typ: dns.TypeDS, ttl: ttl, data: []string{"12345 13 2 " + strings.Repeat("3F1A", 16)}})
	}
}

func (n *genName) hasAddress() bool {
	return slices.ContainsFunc(n.sets, func(s genSet) bool { return s.typ == dns.TypeA || s.typ == dns.TypeAAAA })
}

// anyTarget is a name for a CNAME, DNAME or PTR: any name of the zone
// (itself, another alias, a delegation, a wildcard), a name below one
// (below a wildcard, a delegation, a DNAME), or a name outside the zone;
// in random case.
func (z *genZone) anyTarget(in *fuzzInput) string {
	n := pick(in, z.names)
	var target string
	switch in.intn(6) {
	case 0, 1, 2:
		target = n.fqdn
	case 3, 4:
		target = z.label(in) + "." + n.fqdn
		if _, ok := dns.IsDomainName(target); !ok {
			target = n.fqdn // over 255 octets
		}
	default:
		target = pick(in, []string{"www.other.test.", "nx." + diffOrigin, diffOrigin})
	}
	return randomCase(in, target)
}

// hostTarget is a name for MX, SRV or NS, which must not be an alias: a
// name holding data or addresses, an empty non-terminal, glue, a name
// that does not exist, or one outside the zone.
func (z *genZone) hostTarget(in *fuzzInput) string {
	var hosts []string
	for _, n := range z.names {
		switch n.kind {
		case genData, genPool, genEmpty, genGlue:
			hosts = append(hosts, n.fqdn)
		}
	}
	switch in.intn(4) {
	case 0:
		return "mx.other.test."
	case 1:
		return "nx." + diffOrigin
	}
	return pick(in, hosts)
}

// randomCase flips the case of some letters (never of escapes, which
// hold digits and punctuation).
func randomCase(in *fuzzInput, name string) string {
	if !in.chance(2) {
		return name
	}
	mask := uint(in.next()) | uint(in.next())<<8
	b := []byte(name)
	for i, c := range b {
		if (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') && mask&(1<<(i%16)) != 0 {
			b[i] ^= 0x20
		}
	}
	return string(b)
}

// master writes the zone as an RFC 1035 master file.
func (z *genZone) master() string {
	var b strings.Builder
	fmt.Fprintf(&b, "$ORIGIN %s\n$TTL 300\n@ %d IN SOA ns1 hostmaster 1 3600 900 1209600 %d\n@ 3600 IN NS ns1\n",
		diffOrigin, z.soaTTL, z.soaMin)
	for _, n := range z.names {
		for _, s := range n.sets {
			for _, d := range s.data {
				if s.typ == dns.TypeTXT {
					d = quoteTXT(d)
				}
				fmt.Fprintf(&b, "%s %d IN %s %s\n", n.rel, s.ttl, typeName(s.typ), d)
			}
		}
	}
	return b.String()
}

// childZone is a zone below the first delegation, which we serve too
// (the parent answers DS at its apex): a pool, a chain to it, a CNAME
// back into the parent, a wildcard. "" without a delegation.
func (z *genZone) childZone() string {
	for _, n := range z.names {
		if n.kind != genCut {
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "$ORIGIN %s\n@ 300 IN SOA ns.other.test. hostmaster 1 3600 900 1209600 60\n@ 300 IN NS ns.other.test.\n", n.fqdn)
		for i := range 3 {
			fmt.Fprintf(&b, "www 30 IN A %s\n", diffMember(i, true))
			z.address = append(z.address, diffMember(i, true))
		}
		fmt.Fprintf(&b, "a 300 IN CNAME www\nb 300 IN CNAME %s\n* 300 IN TXT \"child\"\n", diffOrigin)
		return b.String()
	}
	return ""
}

// quoteTXT splits text into 255-byte character strings, as TOML zones do.
func quoteTXT(text string) string {
	var parts []string
	for len(text) > 255 {
		parts = append(parts, `"`+text[:255]+`"`)
		text = text[255:]
	}
	return strings.Join(append(parts, `"`+text+`"`), " ")
}

func typeName(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return fmt.Sprintf("TYPE%d", t)
}

// tomlZone writes the zone in dnsrr's TOML format, with two checks for
// its pools. Values are literal strings: no escapes to get wrong.
func (z *genZone) tomlZone() string {
	var b strings.Builder
	fmt.Fprintf(&b, "origin = %q\nttl = 300\nns = [\"ns1\"]\nns_ttl = 3600\n[soa]\nserial = 1\nminimum = %d\nttl = %d\n",
		diffOrigin, z.soaMin, z.soaTTL)
	b.WriteString("[checks.web]\ntype = \"tcp\"\nport = 80\n[checks.api]\ntype = \"tcp\"\nport = 8080\n")
	for _, n := range z.names {
		var records []genSet
		if n.pool {
			var addrs []string
			ttl := uint32(0)
			for _, s := range n.sets {
				if s.typ == dns.TypeA || s.typ == dns.TypeAAAA {
					addrs = append(addrs, s.data...)
					ttl = s.ttl
				} else {
					records = append(records, s)
				}
			}
			fmt.Fprintf(&b, "[pools.'%s']\naddresses = ['%s']\nttl = %d\n", n.rel, strings.Join(addrs, "', '"), ttl)
			for _, o := range n.poolOpts {
				b.WriteString(o + "\n")
			}
		} else {
			records = n.sets
		}
		if len(records) == 0 {
			continue
		}
		fmt.Fprintf(&b, "[records.'%s']\n", n.rel)
		for _, s := range records {
			fmt.Fprintf(&b, "%s = { ttl = %d, data = ['%s'] }\n", strings.ToLower(typeName(s.typ)), s.ttl, strings.Join(s.data, "', '"))
		}
	}
	return b.String()
}

// diffQueryTypes are the types queries ask for: what zones hold, what
// only the full path answers (ANY, DS, transfers), types no zone holds.
var diffQueryTypes = []uint16{dns.TypeA, dns.TypeA, dns.TypeAAAA, dns.TypeAAAA, dns.TypeTXT, dns.TypeMX,
	dns.TypeSRV, dns.TypeNS, dns.TypeSOA, dns.TypeCNAME, dns.TypeDNAME, dns.TypeDS, dns.TypeANY, dns.TypeCAA,
	dns.TypePTR, dns.TypeHINFO, 65000, nodataProbe, dns.TypeAXFR, dns.TypeRRSIG}

var diffPayloads = []uint16{0, 1, 511, 512, 513, 1232, 1233, 4096, 65535}

const diffClientCookie = "0102030405060708"

// diffQuery is one generated query.
type diffQuery struct {
	msg    *dns.Msg
	pkt    []byte
	udp    bool
	client netip.Addr // sticky pools order by it
}

var diffClients = []netip.Addr{netip.MustParseAddr("192.0.2.77"), netip.MustParseAddr("198.51.100.9"),
	netip.MustParseAddr("2001:db8::77")}

// genQuery makes a query of a name of the zone or near it, in random
// case, with random flags and EDNS options.
func (z *genZone) genQuery(in *fuzzInput) (diffQuery, bool) {
	n := pick(in, z.names)
	var name string
	switch in.intn(8) {
	case 0, 1, 2, 3:
		name = n.fqdn
	case 4: // below: a wildcard's, a delegation's, a DNAME's, or nothing
		name = z.label(in) + "." + n.fqdn
	case 5:
		name = z.label(in) + "." + z.label(in) + "." + n.fqdn
	case 6:
		name = pick(in, []string{"other.test.", "test.", ".", "xf.test.", "f.test.other."})
	default:
		name = diffOrigin
	}
	m := new(dns.Msg).SetQuestion(randomCase(in, name), pick(in, diffQueryTypes))
	m.Id = uint16(in.next())<<8 | uint16(in.next())
	flags := in.next()
	m.RecursionDesired = flags&1 != 0
	m.CheckingDisabled = flags&2 != 0
	m.AuthenticatedData = flags&4 != 0
	if flags&0xF8 == 0xF8 { // rarely: bits a query should not set
		m.Zero, m.Authoritative, m.RecursionAvailable = true, true, true
	}
	if in.chance(32) {
		m.Question[0].Qclass = pick(in, []uint16{dns.ClassCHAOS, dns.ClassANY})
	}
	if in.chance(32) {
		m.Opcode = pick(in, []int{dns.OpcodeNotify, dns.OpcodeUpdate, dns.OpcodeStatus})
	}
	if e := in.next(); e&1 != 0 {
		m.SetEdns0(pick(in, diffPayloads), e&2 != 0)
		opt := m.IsEdns0()
		if e&0x80 != 0 && in.chance(4) {
			opt.SetVersion(1)
		}
		if e&0x40 != 0 && in.chance(4) {
			opt.SetExtendedRcode(dns.RcodeBadVers)
		}
		if e&4 != 0 {
			opt.Option = append(opt.Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})
		}
		if e&8 != 0 {
			opt.Option = append(opt.Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: pick(in, diffCookies)})
		}
		if e&16 != 0 {
			opt.Option = append(opt.Option, &dns.EDNS0_LOCAL{Code: 65001, Data: []byte{1, 2}})
		}
		if in.chance(3) {
			opt.Option = append(opt.Option, &dns.EDNS0_LOCAL{Code: dns.EDNS0SUBNET, Data: pick(in, diffECS)})
		}
		if e&32 != 0 && in.chance(4) { // a second cookie: FORMERR
			opt.Option = append(opt.Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: diffClientCookie})
		}
	}
	pkt, err := m.Pack()
	if err != nil {
		return diffQuery{}, false // a name too long with its new labels
	}
	return diffQuery{msg: m, pkt: pkt, udp: !in.chance(4), client: pick(in, diffClients)}, true
}

// diffECS are EDNS Client Subnet options (family, source prefix, scope,
// address): IPv4 /24 and /32, IPv6 /56, /0, and malformed ones (a scope
// set, bits beyond the prefix, an unknown family, an address too long).
var diffECS = [][]byte{
	{0, 1, 24, 0, 203, 0, 113}, {0, 1, 32, 0, 203, 0, 113, 7}, {0, 1, 24, 0, 198, 51, 100},
	{0, 2, 56, 0, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 1}, {0, 1, 0, 0},
	{0, 1, 24, 24, 203, 0, 113}, {0, 1, 20, 0, 203, 0, 113}, {0, 3, 8, 0, 1}, {0, 1, 8, 0, 1, 2},
}

// diffCookies are COOKIE options: a client cookie alone, with our valid
// server cookie, with a wrong one, and of illegal lengths.
var diffCookies = []string{
	diffClientCookie,
	diffClientCookie + hex.EncodeToString(fakeCookies{}.Append(nil, []byte{1, 2, 3, 4, 5, 6, 7, 8}, netip.Addr{}, time.Time{})),
	diffClientCookie + "00112233445566778899aabbccddeeff",
	diffClientCookie + "01",
	diffClientCookie + strings.Repeat("ab", 33),
}

// runDiffFuzz is one fuzz input: make the zone, load it, apply health and
// policy, then answer queries on both paths.
func runDiffFuzz(t *testing.T, dir string, data []byte, stats *diffStats) {
	in := &fuzzInput{b: data}
	// Bits: TOML, cookies, NSID, health, a child zone.
	setup := in.next()
	z := genDiffZone(in, setup&1 != 0)
	text, file := z.master(), filepath.Join(dir, "f.test.zone")
	if z.toml {
		text, file = z.tomlZone(), filepath.Join(dir, "f.test.toml")
	}
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	files := []string{file}
	if setup&16 != 0 {
		if child := z.childZone(); child != "" {
			files = append(files, filepath.Join(dir, "child.zone"))
			if err := os.WriteFile(files[1], []byte(child), 0o644); err != nil {
				t.Fatal(err)
			}
			text += "\nand the child zone:\n" + child
			if stats != nil {
				stats.child++
			}
		}
	}
	snap, err := zones.Load(files)
	if err != nil {
		t.Fatalf("the generated zone does not load: %v\n%s", err, text)
	}
	s := New(nil, Chaos{}, snap, zerolog.Nop())
	var policy Policy
	if setup&2 != 0 {
		policy.Cookies = fakeCookies{}
	}
	if setup&4 != 0 {
		policy.NSID = "fuzz-ns"
	}
	s.SetPolicy(policy)
	var h *fakeHealth
	if setup&8 != 0 && len(z.address) > 0 {
		h = newFakeHealth()
		for range in.intn(8) {
			toggleHealth(in, h, z.address)
		}
		s.SetHealth(h)
	}
	r := &diffRun{s: s, zoneText: text, health: h, policy: policy, stats: stats}
	if stats != nil {
		for _, n := range z.names {
			stats.kinds[n.kind]++
			for _, o := range n.poolOpts {
				key, _, _ := strings.Cut(o, " ")
				stats.poolKeys[key]++
			}
		}
		stats.toml += int(setup & 1)
		if h != nil {
			stats.health++
		}
	}
	var asked []diffQuery
	for ops := 0; ops < 64 && in.more(); ops++ {
		switch op := in.intn(16); {
		case op == 0 && h != nil:
			a := toggleHealth(in, h, z.address)
			if stats != nil {
				stats.healthSteps++
			}
			if in.chance(4) {
				s.HealthChanged()
				r.log = append(r.log, fmt.Sprintf("health change (%s), recomputed whole", a))
			} else {
				s.HealthChangedAt([]netip.Addr{a})
				r.log = append(r.log, fmt.Sprintf("health change at %s", a))
			}
		case op == 1 && len(asked) > 0: // again, from the templates it built
			r.compare(t, pick(in, asked))
		case op == 2:
			s.Swap(snap)
			r.log = append(r.log, "swap (templates dropped)")
		default:
			q, ok := z.genQuery(in)
			if !ok {
				continue
			}
			asked = append(asked, q)
			r.compare(t, q)
		}
	}
}

// toggleHealth drains or undrains a member, or flips a check's verdict
// on it, and returns it.
func toggleHealth(in *fuzzInput, h *fakeHealth, members []netip.Addr) netip.Addr {
	a := pick(in, members)
	switch in.intn(3) {
	case 0:
		h.toggleDrain(a.Unmap())
	case 1:
		h.toggleDown("web", a)
	default:
		h.toggleDown("api", a)
	}
	return a
}

// diffRun answers queries on both paths and reports differences with
// what it takes to reproduce them.
type diffRun struct {
	s        *Server
	zoneText string
	health   *fakeHealth
	policy   Policy
	log      []string // what happened before, for the report
	stats    *diffStats
	wq       wireQuery
	buf      [udpReadSize]byte
}

func (r *diffRun) compare(t *testing.T, q diffQuery) {
	t.Helper()
	// As a UDP or TCP worker does: one wireQuery for every packet, the
	// client's address set per packet.
	r.wq.client = q.client
	got := r.s.answerPacket(q.pkt, r.buf[:0], &r.wq, q.udp)
	full := wireQuery{client: q.client}
	want := r.s.answerSlow(q.pkt, make([]byte, 0, udpReadSize), &full, q.udp)
	r.log = append(r.log, fmt.Sprintf("query %s (udp %v, from %s)", q.msg.Question[0].String(), q.udp, q.client))
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s\n\nzone:\n%s\npolicy: NSID %q, cookies %v\nhealth: %s\nbefore:\n  %s\nquery (udp %v, from %s):\n%v",
			fmt.Sprintf(format, args...), r.zoneText, r.policy.NSID, r.policy.Cookies != nil, r.describeHealth(),
			strings.Join(r.log[:len(r.log)-1], "\n  "), q.udp, q.client, q.msg)
	}
	if (got == nil) != (want == nil) {
		fail("answerPacket replied %v, answerSlow %v", got != nil, want != nil)
	}
	if got == nil {
		return
	}
	g, gerr := canonicalText(got)
	w, werr := canonicalText(want)
	switch {
	case gerr != nil || werr != nil:
		fail("a reply does not unpack: answerPacket %v, answerSlow %v", gerr, werr)
	case g != w:
		fail("answerPacket:\n%s\nanswerSlow:\n%s", g, w)
	case r.wq.class != full.class:
		fail("answerPacket counts as %+v, answerSlow as %+v", r.wq.class, full.class)
	case r.wq.cookieValid != full.cookieValid:
		fail("answerPacket says the cookie is valid: %v, answerSlow: %v", r.wq.cookieValid, full.cookieValid)
	}
	if r.stats != nil {
		r.stats.queries++
		var wq wireQuery
		if parseQuery(q.pkt, &wq) && r.s.state.Load().fast.respond(&wq, q.pkt, make([]byte, 0, udpReadSize), udpLimit(q.msg)) != nil {
			r.stats.fast++
		}
	}
	if limit := udpLimit(q.msg); q.udp && (len(got) > limit || len(want) > limit) {
		fail("UDP replies of %d (answerPacket) and %d (answerSlow) bytes, limit %d", len(got), len(want), limit)
	}
}

// udpLimit is the most a UDP reply to m may hold.
func udpLimit(m *dns.Msg) int {
	if opt := m.IsEdns0(); opt != nil {
		return min(max(int(opt.UDPSize()), minPayload), ednsPayload)
	}
	return minPayload
}

func (r *diffRun) describeHealth() string {
	if r.health == nil {
		return "none"
	}
	r.health.mu.Lock()
	defer r.health.mu.Unlock()
	var out []string
	for k, down := range r.health.down {
		if down {
			out = append(out, fmt.Sprintf("%s down for %s", k.addr, k.check))
		}
	}
	for a := range r.health.drained {
		out = append(out, fmt.Sprintf("%s drained", a))
	}
	slices.Sort(out)
	return "[" + strings.Join(out, ", ") + "] (now, after the changes below)"
}

// diffFuzzSeeds are inputs whose zones hold every kind of name: the
// first bytes choose the format, policy and health, the names and their
// kinds; the rest, from a fixed random source, their data and queries.
func diffFuzzSeeds() [][]byte {
	var seeds [][]byte
	for i := range 24 {
		rng := rand.New(rand.NewPCG(uint64(i), 42))
		// Setup (TOML, cookies, NSID, health: every combination; a child
		// zone in some), the
		// SOA's TTLs, 16 names.
		seed := []byte{byte(i % 32), byte(i), byte(i / 4), 15}
		for k := range 16 {
			// Per name: its parent, its kind (every kind in each seed),
			// an empty non-terminal above it or not, its label.
			seed = append(seed, byte(rng.IntN(256)), byte((i+k)%int(genWildcard)))
			if k%5 == 3 {
				seed = append(seed, 0, byte(rng.IntN(256)))
			} else {
				seed = append(seed, 1)
			}
			seed = append(seed, byte(i*7+k))
		}
		tail := make([]byte, 600)
		for j := range tail {
			tail[j] = byte(rng.IntN(256))
		}
		seeds = append(seeds, append(seed, tail...))
	}
	return seeds
}

// Found by FuzzFastPathMatchesFullPath: the full path packed the question
// in the client's case, which miekg/dns does not compress the owners'
// lower case against, so a 0x20 query got a longer reply than a lower-case
// one (and than the fast path's), truncated where the fast path's fit.
func TestFullPathSizeIgnoresCase(t *testing.T) {
	s := exampleServer(t)
	for _, n := range s.Snapshot().Zones()[0].Nodes() {
		for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeMX, dns.TypeTXT, dns.TypeNS} {
			var sizes [2]int
			for i, name := range []string{n.Name, strings.ToUpper(n.Name)} {
				pkt, err := new(dns.Msg).SetQuestion(name, qt).Pack()
				if err != nil {
					t.Fatal(err)
				}
				out := s.answerSlow(pkt, make([]byte, 0, udpReadSize), new(wireQuery), true)
				m := new(dns.Msg)
				if err := m.Unpack(out); err != nil || m.Question[0].Name != name {
					t.Fatalf("%s %s: reply %v (%v), want the question as asked", name, dns.TypeToString[qt], m, err)
				}
				sizes[i] = len(out)
			}
			if sizes[0] != sizes[1] {
				t.Errorf("%s %s: reply of %d bytes in lower case, %d in upper case", n.Name, dns.TypeToString[qt], sizes[0], sizes[1])
			}
		}
	}
}

// Found by FuzzFastPathMatchesFullPath: the UDP and TCP loops reuse one
// wireQuery, and a packet that fails before respond (one miekg/dns cannot
// unpack, an OPT out of place) must not keep the previous query's rate
// limiting class and cookie verdict, nor a fresh wireQuery's zero class
// (an answer).
func TestMalformedQueryCountsAsError(t *testing.T) {
	s := exampleServer(t)
	s.SetPolicy(Policy{Cookies: fakeCookies{}})
	good := new(dns.Msg).SetQuestion("www.lb.example.test.", dns.TypeA)
	good.SetEdns0(1232, false)
	good.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: diffCookies[1]}}
	goodPkt, err := good.Pack()
	if err != nil {
		t.Fatal(err)
	}
	// A name of 264 octets, which miekg/dns packs but will not unpack.
	long := new(dns.Msg).SetQuestion(strings.Repeat(strings.Repeat("l", 63)+".", 4)+"lb.example.test.", dns.TypeA)
	longPkt, err := long.Pack()
	if err != nil {
		t.Fatal(err)
	}
	misplaced := new(dns.Msg).SetQuestion("www.lb.example.test.", dns.TypeA)
	misplaced.SetEdns0(1232, false)
	misplaced.Answer, misplaced.Extra = misplaced.Extra, nil
	misplacedPkt, err := misplaced.Pack()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		pkt  []byte
	}{{"name too long", longPkt}, {"OPT in the answer section", misplacedPkt}} {
		for _, udp := range []bool{true, false} {
			var q wireQuery
			s.answerPacket(goodPkt, make([]byte, 0, udpReadSize), &q, udp)
			if q.class.kind != rrl.Answer || !q.cookieValid {
				t.Fatalf("good query counts as %+v, valid cookie %v", q.class, q.cookieValid)
			}
			m := new(dns.Msg)
			if err := m.Unpack(s.answerPacket(tc.pkt, make([]byte, 0, udpReadSize), &q, udp)); err != nil || m.Rcode != dns.RcodeFormatError {
				t.Fatalf("%s: reply %v (%v), want FORMERR", tc.name, m, err)
			}
			if q.class != (classification{kind: rrl.Error}) || q.cookieValid {
				t.Errorf("%s (udp %v): counts as %+v, valid cookie %v; want an error, no cookie", tc.name, udp, q.class, q.cookieValid)
			}
			// The full path alone, as the fuzz test runs it: a fresh
			// wireQuery's zero class is an answer, not an error.
			var fresh wireQuery
			s.answerSlow(tc.pkt, make([]byte, 0, udpReadSize), &fresh, udp)
			if fresh.class != (classification{kind: rrl.Error}) {
				t.Errorf("%s (udp %v): answerSlow counts it as %+v, want an error", tc.name, udp, fresh.class)
			}
		}
	}
}
