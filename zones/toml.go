package zones

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/dnsrr/dnsrr/zones/tomlfile"
	"github.com/miekg/dns"
)

// Defaults of the TOML zone format, in one place.
const (
	defaultTTL     = 3600
	defaultRefresh = 3600
	defaultRetry   = 900
	defaultExpire  = 1209600
	defaultMinimum = 300
	defaultRName   = "hostmaster"
)

// recordType is the type a [records.NAME] key names: a type's mnemonic
// in lower case (mx, hinfo, loc) or, for any type, typeN (RFC 3597 §5).
func recordType(key string) (uint16, bool) {
	if n, ok := strings.CutPrefix(key, "type"); ok && n != "" && n[0] != '+' {
		t, err := strconv.ParseUint(n, 10, 16)
		return uint16(t), err == nil
	}
	if key != strings.ToLower(key) {
		return 0, false
	}
	t, ok := dns.StringToType[strings.ToUpper(key)]
	return t, ok
}

// tomlZone reads one TOML zone file.
type tomlZone struct {
	root   *tomlfile.Table
	src    *source
	ttl    uint32
	origin string
	checks map[string]*Check // this file's [checks]
	shared map[string]*Check // the configuration's
	pools  map[string]bool   // owners of [pools] entries
}

func loadTOML(path string, text []byte, shared map[string]*Check, lim Limits, errs *tomlfile.List) *source {
	if err := tomlfile.CheckShape(path, string(text), tomlLimits(lim)); err != nil {
		errs.Append(err)
		return nil
	}
	root, err := tomlfile.Parse(path, string(text))
	if err != nil {
		errs.Append(tomlfile.Flatten(redactTOMLSyntaxError(text, err))...) // syntax errors come joined
		return nil
	}
	z := &tomlZone{root: root, src: &source{file: path}, checks: map[string]*Check{}, shared: shared, pools: map[string]bool{}}
	z.read()
	errs.Append(tomlfile.Flatten(root.File().Errs.Err())...)
	if z.origin == "" {
		return nil
	}
	return z.src
}

func (z *tomlZone) read() {
	r := z.root
	origin, ok := r.String("origin")
	switch {
	case !ok:
		if !r.Has("origin") && !r.HasIn("soa", "origin") {
			r.Errorf("", "origin is missing: name the zone, e.g. origin = \"lb.example.com.\"")
		}
	case !validName(origin):
		r.Errorf("origin", "%q is not a valid domain name", origin)
	default:
		z.origin = canonicalName(dns.Fqdn(origin))
	}
	// The line is looked up later, if ever: hold the file, not its tree.
	f := r.File()
	z.src.origin, z.src.line = z.origin, func() int { return f.Line("origin") }
	z.ttl = defaultTTL
	if v, ok := r.Int("ttl", 0, maxTTL); ok {
		z.ttl = uint32(v)
	}

	nsNames, _ := r.Strings("ns")
	nsTTL := z.ttl
	if v, ok := r.Int("ns_ttl", 0, maxTTL); ok {
		nsTTL = uint32(v)
	}
	if z.origin != "" && !r.Has("ns") {
		if !r.HasIn("soa", "ns") { // else readSOA says where it went
			r.Errorf("", "ns is missing: list the zone's name servers, e.g. ns = [\"ns1\", \"ns2\"]")
		}
		z.src.apexReported = true
	}
	for i, n := range nsNames {
		target, ok := z.name(n)
		if !ok {
			r.ElemErrorf("ns", i, "%q is not a valid host name", n)
			continue
		}
		z.add(r, "ns", i, &dns.NS{Hdr: z.hdr(z.origin, dns.TypeNS, nsTTL), Ns: target}, OrderRandom)
	}

	if soa, ok := r.Table("soa"); ok {
		z.readSOA(soa, nsNames)
	} else if !r.Has("soa") {
		r.Errorf("", "[soa] is missing: a zone needs serial and minimum at least")
		z.src.apexReported = true
	}
	if checks, ok := r.Table("checks"); ok {
		for _, name := range checks.Keys() {
			if t, ok := checks.Table(name); ok && !t.UnquotedDots(IsCheckKey) {
				z.checks[name] = ParseCheck(t, name, filepath.Dir(z.src.file))
			}
		}
		checks.Done()
	}
	if pools, ok := r.Table("pools"); ok {
		// Room for a large zone's records up front: growing a slice of a
		// million entries copies it over and over.
		z.src.entries = slices.Grow(z.src.entries, 4*pools.Len())
		for _, name := range pools.Keys() {
			if t, ok := pools.Table(name); ok && !t.UnquotedDots(isKeyOf(poolKeys)) {
				z.readPool(t, name)
			}
		}
		pools.Done()
	}
	if recs, ok := r.Table("records"); ok {
		for _, name := range recs.Keys() {
			if t, ok := recs.Table(name); ok && !t.UnquotedDots(isRecordKey) {
				z.readRecords(t, name)
			}
		}
		recs.Done()
	}
	r.Done()
}

// poolKeys and checkKeys are the keys of a [pools.NAME] and a
// [checks.NAME] table: a sub-table under any other key is most likely a
// name with unquoted dots (see tomlfile.Table.UnquotedDots).
var (
	poolKeys  = append([]string{"addresses", "ttl"}, policyKeys...)
	checkKeys = []string{"type", "port", "interval", "timeout", "fall", "rise", "method", "path", "host", "expect", "body", "insecure", "ca_file", "source", "weight_header"}
)

func isKeyOf(keys []string) func(string) bool {
	return func(k string) bool { return slices.Contains(keys, k) }
}

// IsCheckKey reports whether key is one of a [checks.NAME] table's, for
// the configuration's checks: a check table t whose
// t.UnquotedDots(IsCheckKey) is true is not a check.
func IsCheckKey(key string) bool { return slices.Contains(checkKeys, key) }

func isRecordKey(k string) bool { _, ok := recordType(k); return ok || k == "ttl" }

func (z *tomlZone) hdr(owner string, typ uint16, ttl uint32) dns.RR_Header {
	return dns.RR_Header{Name: owner, Rrtype: typ, Class: dns.ClassINET, Ttl: ttl}
}

func (z *tomlZone) add(at *tomlfile.Table, key string, idx int, rr dns.RR, order Order) {
	z.src.entries = append(z.src.entries, entry{rr: rr, toml: &tomlPlace{at, key, idx}, order: order})
}

// name qualifies a name written in the zone: "@" is the origin, a name
// without a trailing dot is relative to it.
func (z *tomlZone) name(s string) (string, bool) {
	if s == "@" {
		return z.origin, z.origin != ""
	}
	if !validName(s) {
		return "", false
	}
	if !dns.IsFqdn(s) {
		if z.origin == "" {
			return "", false
		}
		s += "." + z.origin
		if z.origin == "." {
			s = s[:len(s)-1]
		}
	}
	return canonicalName(s), true
}

// mailbox qualifies an SOA RNAME, whose first label may hold an escaped
// dot (first\.last.example.com. is first.last@example.com).
func (z *tomlZone) mailbox(s string) (string, bool) {
	local, rest, ok := strings.Cut(s, ".")
	for ok && strings.HasSuffix(local, "\\") {
		var more string
		more, rest, ok = strings.Cut(rest, ".")
		local += "." + more
	}
	if !strings.Contains(local, "\\") {
		return z.name(s)
	}
	if rest == "" {
		return "", false
	}
	domain, ok := z.name(rest)
	if !ok {
		return "", false
	}
	if _, ok := dns.IsDomainName(local + "." + domain); !ok {
		return "", false
	}
	return strings.ToLower(local) + "." + domain, true
}

func validName(s string) bool {
	if s == "" || s == "@" {
		return false
	}
	_, ok := dns.IsDomainName(s)
	if ok && badEscape(s) {
		return false
	}
	// Escapes are allowed (a\.b, \065, a\ b); blanks and quotes written
	// bare are most likely a slip.
	return ok && !strings.ContainsAny(s, " \t\"")
}

func (z *tomlZone) readSOA(t *tomlfile.Table, nsNames []string) {
	get := func(key string, def int64, max int64) uint32 {
		if v, ok := t.Int(key, 0, max); ok {
			return uint32(v)
		}
		return uint32(def)
	}
	serial, ok := t.Int("serial", 0, 1<<32-1)
	if !ok && !t.Has("serial") {
		t.Errorf("", "serial is missing")
	}
	soa := &dns.SOA{
		Serial:  uint32(serial),
		Refresh: get("refresh", defaultRefresh, maxTTL),
		Retry:   get("retry", defaultRetry, maxTTL),
		Expire:  get("expire", defaultExpire, maxTTL),
		Minttl:  get("minimum", defaultMinimum, maxTTL),
	}
	soa.Hdr = z.hdr(z.origin, dns.TypeSOA, get("ttl", int64(z.ttl), maxTTL))
	for _, k := range []string{"origin", "ns", "ns_ttl", "pools", "records"} {
		if t.Has(k) {
			// TOML puts every key after [soa] into the soa table.
			t.Get(k)
			t.Errorf(k, "belongs at the top of the file, before [soa]")
		}
	}
	if z.origin == "" {
		t.Done()
		return // names cannot be qualified; the origin error says why
	}
	mname, ok := t.String("mname")
	if !ok && len(nsNames) > 0 {
		mname = nsNames[0]
	}
	if soa.Ns, ok = z.name(mname); !ok && mname != "" {
		t.Errorf("mname", "%q is not a valid host name", mname)
	}
	rname, ok := t.String("rname")
	if !ok {
		rname = defaultRName
	}
	// Accept the mail form people know: hostmaster@example.com.
	if local, domain, ok := strings.Cut(rname, "@"); ok {
		rname = strings.ReplaceAll(local, ".", "\\.") + "." + dns.Fqdn(domain)
	}
	if soa.Mbox, ok = z.mailbox(rname); !ok {
		t.Errorf("rname", "%q is not a valid mailbox name", rname)
	}
	t.Done()
	// A name that failed is reported above (or its NS are missing, which
	// build reports): a stand-in keeps the record whole, so that only the
	// cause is reported, not an incomplete SOA as well.
	if soa.Ns == "" {
		soa.Ns = "."
	}
	if soa.Mbox == "" {
		soa.Mbox = "."
	}
	z.add(t, "", -1, soa, OrderRandom)
}

func (z *tomlZone) readPool(t *tomlfile.Table, name string) {
	owner, ok := z.name(name)
	if !ok {
		t.Errorf("", "%q is not a valid owner name", name)
	}
	ttl := z.ttl
	if v, ok := t.Int("ttl", 0, maxTTL); ok {
		ttl = uint32(v)
	}
	addrs, ok := t.Strings("addresses")
	if !ok && !t.Has("addresses") {
		t.Errorf("", "addresses is missing: a pool needs at least one address")
	} else if ok && len(addrs) == 0 {
		t.Errorf("addresses", "a pool needs at least one address")
	}
	pool := &Pool{Name: owner}
	z.pools[owner] = true
	policy := readPolicy(t, pool, z.check, "in this file or the configuration")
	if pool.TTLDegraded >= ttl && pool.TTLDegraded > 0 {
		t.Errorf("ttl_degraded", "%d is not below the pool's ttl (%d)", pool.TTLDegraded, ttl)
	}
	t.Done()
	if owner == "" {
		return
	}
	for i, a := range addrs {
		rr, err := addressRR(owner, ttl, a, 0)
		if err != nil {
			t.ElemErrorf("addresses", i, "%v", err)
			continue
		}
		z.add(t, "addresses", i, rr, policy.order)
		pool.members = append(pool.members, AddrOf(rr))
	}
	pool.weights = weightsOf(pool, policy.weights, func(w poolWeight) {
		policy.weightsAt.Errorf(w.key, "%s is not one of the pool's addresses", w.key)
	})
	z.src.pools = append(z.src.pools, pool)
}

// check is the check a pool of this file names: this file's, else the
// configuration's; nil if neither has it.
func (z *tomlZone) check(name string) *Check {
	if c := z.checks[name]; c != nil {
		return c
	}
	return z.shared[name]
}

// addressRR makes an A or AAAA record; want 0 takes the address family as
// it comes, so one pool can mix IPv4 and IPv6.
func addressRR(owner string, ttl uint32, s string, want uint16) (dns.RR, error) {
	ip, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil || ip.Zone() != "" {
		return nil, fmt.Errorf("%q is not an IP address", s)
	}
	ip = ip.Unmap()
	hdr := dns.RR_Header{Name: owner, Class: dns.ClassINET, Ttl: ttl}
	switch {
	case ip.Is4() && want != dns.TypeAAAA:
		hdr.Rrtype = dns.TypeA
		return &dns.A{Hdr: hdr, A: ip.AsSlice()}, nil
	case ip.Is6() && want != dns.TypeA:
		hdr.Rrtype = dns.TypeAAAA
		return &dns.AAAA{Hdr: hdr, AAAA: ip.AsSlice()}, nil
	case want == dns.TypeA:
		return nil, fmt.Errorf("%s is an IPv6 address: put it under aaaa", s)
	default:
		return nil, fmt.Errorf("%s is an IPv4 address: put it under a", s)
	}
}

func (z *tomlZone) readRecords(t *tomlfile.Table, name string) {
	owner, ok := z.name(name)
	if !ok {
		t.Errorf("", "%q is not a valid owner name", name)
	}
	ttl := z.ttl
	if v, ok := t.Int("ttl", 0, maxTTL); ok {
		ttl = uint32(v)
	}
	for _, key := range t.Keys() {
		typ, known := recordType(key)
		if !known {
			continue // reported by Done
		}
		if msg := typeKeyProblem(typ, key); msg != "" {
			t.Get(key)
			t.Errorf(key, "%s", msg)
			continue
		}
		if (typ == dns.TypeA || typ == dns.TypeAAAA) && z.pools[owner] {
			t.Get(key)
			t.Errorf(key, "%s already has addresses in [pools.%s]: list them all there", name, name)
			continue
		}
		// A list of values, or { ttl = N, data = [...] } for a TTL of its own.
		setTTL, at, valueKey := ttl, t, key
		if t.IsTable(key) {
			at, _ = t.Table(key)
			if v, ok := at.Int("ttl", 0, maxTTL); ok {
				setTTL = uint32(v)
			}
			if valueKey = "data"; !at.Has("data") {
				at.Errorf("", "data is missing")
			}
		}
		items, _ := at.Items(valueKey)
		if at != t {
			at.Done()
		}
		if owner == "" {
			continue
		}
		for _, item := range items {
			rr, err := parseRecord(owner, setTTL, key, typ, item, z.origin)
			if err != nil {
				at.ElemErrorf(valueKey, item.Index, "%v", err)
				continue
			}
			z.add(at, valueKey, item.Index, rr, OrderRandom)
		}
	}
	t.Done()
}

// parseRecord turns one value of a record key into a record. Under a, aaaa
// and txt the value is taken literally (an address; text without quoting);
// a txt element that is an array lists the record's character-strings
// (explicitTXT). Everything else, and every typeN key, is in RFC 1035
// presentation form, with names relative to the origin; any type may be
// written in RFC 3597's generic form, \# LENGTH HEX (genericRR).
func parseRecord(owner string, ttl uint32, key string, typ uint16, item tomlfile.Item, origin string) (dns.RR, error) {
	hdr := dns.RR_Header{Name: owner, Rrtype: typ, Class: dns.ClassINET, Ttl: ttl}
	if item.IsList {
		if key != "txt" {
			return nil, fmt.Errorf("element %d must be a string, not an array: only txt takes a list of character-strings", item.Index+1)
		}
		return explicitTXT(hdr, item.List)
	}
	value := item.Text
	if rest, ok := strings.CutPrefix(strings.TrimSpace(value), `\#`); ok && key != "txt" {
		return genericRR(hdr, rest)
	}
	switch key {
	case "a", "aaaa":
		return addressRR(owner, ttl, value, typ)
	case "txt":
		return &dns.TXT{Hdr: hdr, Txt: splitTXT(value)}, nil
	}
	if _, known := dns.TypeToRR[typ]; !known {
		return nil, fmt.Errorf(`%q: %s has no presentation form dnsrr knows; write it in RFC 3597's generic form, \# LENGTH HEX`, value, typeName(typ))
	}
	text := fmt.Sprintf("%s %d IN TYPE%d %s", owner, ttl, typ, value)
	if strings.ContainsAny(value, "\n\r") {
		// One value, one record: a newline could smuggle in a $ directive.
		return nil, fmt.Errorf("%q: a value must be on one line", value)
	}
	zp := dns.NewZoneParser(strings.NewReader(text), origin, "")
	rr, ok := zp.Next()
	if err := zp.Err(); err != nil {
		msg := err.Error()
		if pe, ok := err.(*dns.ParseError); ok {
			msg, _ = splitParseError(pe)
		}
		return nil, fmt.Errorf("%q is not valid %s data: %s", value, typeName(typ), msg)
	}
	if !ok || rr == nil {
		return nil, fmt.Errorf("%q is not valid %s data", value, typeName(typ))
	}
	if zp.Comment() != "" {
		// Everything after an unquoted ';' would be dropped silently.
		return nil, fmt.Errorf("%q: a ';' outside quotes starts a comment; quote it or leave it out", value)
	}
	if _, extra := zp.Next(); extra {
		return nil, fmt.Errorf("%q holds more than one record", value)
	}
	return rr, nil
}

// splitTXT splits text into the 255-byte character strings TXT holds
// (RFC 1035 §3.3.14), so long values such as DKIM keys need no quoting.
func splitTXT(s string) []string {
	var out []string
	for {
		chunk := s[:min(len(s), 255)]
		s = s[len(chunk):]
		// miekg/dns reads TXT strings in presentation form: escape its escape.
		out = append(out, strings.ReplaceAll(chunk, `\`, `\\`))
		if s == "" {
			return out
		}
	}
}
