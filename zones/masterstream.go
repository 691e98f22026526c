package zones

import (
	"bytes"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"github.com/dnsrr/dnsrr/zones/tomlfile"
	"github.com/miekg/dns"
)

// A large master file is mostly address records in their simplest form,
// "www 300 IN A 192.0.2.1". miekg/dns's parser makes a dns.RR of each
// (about 100 bytes with its slot, owner and address) and loading held them
// all, with the file's text, before the zone was built: three times NSD's
// memory for a zone of a million addresses. masterStream reads such lines
// itself, straight into the zone's packed address sets, and hands every
// other record to miekg/dns, a run of them at a time, in the state (origin,
// default TTL, previous owner) in force where the run starts. So no list
// of every record is ever made.
//
// Whatever it is not sure to read exactly as miekg/dns does (escapes,
// quotes, parentheses, names with other characters) it leaves to
// miekg/dns. A syntax error, or a directive other than $ORIGIN and $TTL in
// their simplest form ($GENERATE, say), makes it give up: loadMaster then
// parses the file whole, as before, which reports every error at its line.
// TestStreamMatchesWholeParse and FuzzMasterStream hold the two to the
// same zones and the same problems.

// masterStream reads one master file into a zone. A reader goroutine
// reads the text into batches of records, in file order; the caller's
// goroutine builds the zone from them as they come, so that reading
// (miekg/dns's parser, above all) and building share the machine's CPUs.
type masterStream struct {
	text  []byte
	path  string
	lim   Limits
	p     pace
	built *tomlfile.List // the zone's problems, kept if the stream succeeds

	// The reader's side.
	batch   []record
	out     chan []record // batches read, in file order
	free    chan []record // batches built, for reuse
	quit    chan struct{} // closed when the builder must stop
	packBuf []byte        // for checkRdata
	// The parser's state, as miekg/dns keeps it.
	origin         string // absolute
	ttl            uint32 // the default TTL, when hasTTL
	hasTTL         bool
	ttlByDirective bool   // from $TTL: a record's own TTL does not change it
	owner          string // the previous record's owner, "" before the first
	// ownerTok is the token owner was read from (nil when it came from
	// miekg/dns): the next record with the same token reuses the string.
	ownerTok []byte

	records int
	done    bool // read to the end
	stopped bool // Loader.Stop, or the builder stopped

	// The builder's side.
	// pending holds the records before the first SOA, whose owner is the
	// zone's origin: usually none.
	pending []record
	soaLine int // the first SOA's
	b       *builder
	src     *source

	// run is the other records gathered for miekg/dns.
	run struct {
		start, end int     // where in text
		lines      []int32 // each record's first line
	}
}

// masterPlace is where a record of a master file starts.
func masterPlace(line int) place { return place{entry: -1, line: int32(line)} }

// streamBatch is how many records the reader hands over at a time; at
// most streamBatches wait, so the records between the two stay few.
const (
	streamBatch   = 512
	streamBatches = 4
)

// streamMaster reads a master file. ok is false, with nothing reported,
// when the file must be parsed whole instead; else finish makes its zone.
func streamMaster(path string, text []byte, origin string, lim Limits, p pace) (ms *masterStream, ok bool) {
	if bytes.Contains(text, []byte(`\#`)) {
		return nil, false // generic data is checked against the text (checkGenericData)
	}
	ms = &masterStream{text: text, path: path, lim: lim, p: p, built: &tomlfile.List{}, origin: origin,
		out: make(chan []record, streamBatches), free: make(chan []record, streamBatches+2),
		quit: make(chan struct{}), packBuf: make([]byte, dns.MaxMsgSize)}
	var done bool
	p.spawn(func() {
		done, ok = ms.read()
		ms.send()
		close(ms.out)
	})
	building := true
	for batch := range ms.out {
		for i := range batch {
			if building && !ms.build(&batch[i]) {
				building = false
				close(ms.quit)
			}
		}
		clear(batch) // the records' memory is the zone's now
		select {
		case ms.free <- batch[:0]:
		default:
		}
	}
	ms.text, ms.done = nil, done && building // the text is garbage now: the zone holds what it needs
	return ms, ok
}

// finish makes the zone read: src and z, nil when the file has problems,
// which built holds.
func (ms *masterStream) finish() (src *source, z *Zone, built *tomlfile.List) {
	switch {
	case ms.records > ms.lim.MaxRecords:
		built = &tomlfile.List{} // the only problem reported, as when counted first
		built.Append(tooManyRecords(ms.path, ms.lim))
		return nil, nil, built
	case !ms.done:
		return nil, nil, ms.built // Loader.Stop: thrown away
	case ms.b == nil:
		ms.built.Add(ms.path, 0, "", "no SOA record: the zone's origin is the owner of its SOA")
		return nil, nil, ms.built
	}
	return ms.src, ms.b.finish(), ms.built
}

// read reads the whole text. done is false when it stopped early (Loader.Stop,
// max_records); ok is false when the file must be parsed whole instead.
func (ms *masterStream) read() (done, ok bool) {
	text := ms.text
	var r record
	var pl plainLine
	for off, line := 0, 1; off < len(text); {
		end := bytes.IndexByte(text[off:], '\n')
		next, nextLine := off+end+1, line+1
		if end < 0 {
			end, next = len(text)-off, len(text)
		}
		l := text[off : off+end]
		if c := bytes.IndexByte(l, ';'); c >= 0 && bytes.IndexByte(l[c+1:], ';') >= 0 && (blankLine(l) || !complexLine(l)) {
			// A comment holding ';' on a line read here (miekg/dns reads
			// the others itself): miekg/dns refuses some of these (its
			// lexer's comment buffer), so the file is left to it whole.
			return false, false
		}
		switch {
		case blankLine(l):
		case complexLine(l):
			// Quotes, escapes or parentheses: a record that may run over
			// several lines, for miekg/dns.
			rec, found := nextMasterRecord(text, off, line, false)
			if !found || rec.offset != off || rec.open || l[0] == '$' {
				return false, false
			}
			ms.gather(off, rec.end, line)
			next, nextLine = rec.end, rec.last+1
		case l[0] == '$':
			if !ms.flush() || !ms.directive(l) {
				return false, false
			}
		case readPlain(l, &pl):
			if !ms.flush() {
				return false, false
			}
			if ms.plain(&pl, line, &r) {
				ms.put(&r)
			} else {
				ms.gather(off, next, line)
			}
		default:
			ms.gather(off, next, line)
		}
		off, line = next, nextLine
		if ms.halted() {
			return false, true
		}
	}
	if !ms.flush() {
		return false, false
	}
	return !ms.halted(), true
}

// halted reports a load that must stop: over max_records, Loader.Stop, or
// the builder stopped.
func (ms *masterStream) halted() bool {
	return ms.records > ms.lim.MaxRecords || ms.stopped
}

// blankLine reports a line with nothing but blanks and a comment.
func blankLine(l []byte) bool {
	for _, c := range l {
		switch c {
		case ' ', '\t', '\r':
		case ';':
			return true
		default:
			return false
		}
	}
	return true
}

// complexLine reports a line whose record may go on past it, or whose
// tokens are not split at blanks alone.
func complexLine(l []byte) bool {
	return bytes.ContainsAny(l, "()\"\\")
}

// gather adds the record at text[from:to] (from line on) to the run.
func (ms *masterStream) gather(from, to, line int) {
	if len(ms.run.lines) == 0 {
		ms.run.start = from
	}
	ms.run.end = to
	ms.run.lines = append(ms.run.lines, int32(line))
	ms.records++
}

// flush parses the run with miekg/dns, in the state in force where it
// starts, and takes the state where it ends. false: the file must be
// parsed whole (a syntax error, or records not counted as it counts them).
func (ms *masterStream) flush() bool {
	lines := ms.run.lines
	if len(lines) == 0 {
		return true
	}
	ms.run.lines = lines[:0]
	body := ms.text[ms.run.start:ms.run.end]
	var prefix string
	if ms.hasTTL && ms.ttlByDirective {
		prefix = "$TTL " + strconv.FormatUint(uint64(ms.ttl), 10) + "\n"
	}
	if ms.owner != "" && (body[0] == ' ' || body[0] == '\t') {
		prefix += ms.owner // the owner a record starting with a blank inherits
	}
	var tail string
	if ms.run.end < len(ms.text) {
		// miekg/dns reads a record that ends at its type ("www IN A")
		// as one without data at the end of its input, and as an error
		// anywhere else: let it see that more follows.
		tail = "\n"
	}
	zp := dns.NewZoneParser(&prefixedReader{prefix: prefix, text: body, tail: tail}, ms.origin, ms.path)
	zp.SetIncludeAllowed(false)
	if ms.hasTTL && !ms.ttlByDirective {
		zp.SetDefaultTTL(ms.ttl)
	}
	i := 0
	var owner string
	var ttl uint32
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if i == len(lines) {
			return false
		}
		owner, ttl = rr.Header().Name, rr.Header().Ttl
		ms.records-- // counted when gathered
		if !ms.put(&record{rr: rr, order: OrderRandom, at: masterPlace(int(lines[i]))}) {
			return true // read sees that it must stop
		}
		i++
	}
	if zp.Err() != nil || i != len(lines) {
		return false
	}
	ms.owner, ms.ownerTok = owner, nil
	if !ms.ttlByDirective {
		// Every record either set the default TTL to its own or took it:
		// the last one's is the default now. Unless there was none, and
		// the records took none either (TTL 0).
		if !ms.hasTTL && ttl == 0 {
			return false
		}
		ms.ttl, ms.hasTTL = ttl, true
	}
	return true
}

// prefixedReader reads prefix, text and tail, a byte at a time as
// miekg/dns's lexer does (an io.ByteReader spares it a buffer of its own).
type prefixedReader struct {
	prefix string
	text   []byte
	tail   string
}

func (r *prefixedReader) ReadByte() (byte, error) {
	switch {
	case len(r.prefix) > 0:
		c := r.prefix[0]
		r.prefix = r.prefix[1:]
		return c, nil
	case len(r.text) > 0:
		c := r.text[0]
		r.text = r.text[1:]
		return c, nil
	case len(r.tail) > 0:
		c := r.tail[0]
		r.tail = r.tail[1:]
		return c, nil
	}
	return 0, io.EOF
}

func (r *prefixedReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c, err := r.ReadByte() // the lexer reads bytes: Read is never called
	if err != nil {
		return 0, err
	}
	p[0] = c
	return 1, nil
}

// put hands a record to the builder, checking its data on the way (which
// the builder would do otherwise). false: the load must stop.
func (ms *masterStream) put(r *record) bool {
	if ms.records++; ms.records > ms.lim.MaxRecords {
		return false
	}
	if !ms.p.yield(ms.records) {
		ms.stopped = true
		return false
	}
	if r.rr != nil {
		r.rdataErr, r.checked = checkRdata(r.rr, ms.packBuf), true
	}
	if ms.batch == nil {
		ms.batch = make([]record, 0, streamBatch)
	}
	ms.batch = append(ms.batch, *r)
	return len(ms.batch) < streamBatch || ms.send()
}

// send hands the batch over. false: the builder stopped.
func (ms *masterStream) send() bool {
	if len(ms.batch) == 0 {
		return true
	}
	select {
	case ms.out <- ms.batch:
	case <-ms.quit:
		ms.stopped = true
		return false
	}
	select {
	case ms.batch = <-ms.free:
	default:
		ms.batch = make([]record, 0, streamBatch)
	}
	return true
}

// build adds a record to the zone, whose builder starts at the first SOA.
// false: the load must stop.
func (ms *masterStream) build(r *record) bool {
	if ms.b == nil {
		isSOA := r.rr != nil && r.rr.Header().Rrtype == dns.TypeSOA
		if isSOA && ms.soaLine == 0 {
			ms.soaLine = int(r.at.line)
		}
		if !isSOA || r.rr.Header().Name == "" {
			ms.pending = append(ms.pending, *r)
			return true
		}
		ms.start(r)
	}
	return ms.b.add(r)
}

// start makes the builder of the zone whose SOA is soa. The zone's line
// is its first SOA's, even one without an owner.
func (ms *masterStream) start(soa *record) {
	line := ms.soaLine
	ms.src = &source{file: ms.path, origin: canonicalName(dns.Fqdn(soa.rr.Header().Name)), foldDuplicates: true,
		line: func() int { return line }, limits: ms.lim}
	ms.b = newBuilder(ms.src, ms.built, ms.p, ownerRunsIn(ms.text))
	for i := range ms.pending {
		if !ms.b.add(&ms.pending[i]) {
			break
		}
	}
	ms.pending = nil
}

// ownerRunsIn estimates the names of a master file: the runs of lines
// starting with the same owner.
func ownerRunsIn(text []byte) int {
	runs := 0
	var prev []byte
	for off := 0; off < len(text); {
		end := bytes.IndexByte(text[off:], '\n')
		if end < 0 {
			end = len(text) - off
		}
		l := text[off : off+end]
		if len(l) > 0 && l[0] != ' ' && l[0] != '\t' && l[0] != ';' && l[0] != '$' && l[0] != '\r' {
			tok := l
			if i := bytes.IndexAny(l, " \t"); i >= 0 {
				tok = l[:i]
			}
			if !bytes.Equal(tok, prev) {
				runs, prev = runs+1, tok
			}
		}
		off += end + 1
	}
	return runs
}

// directive follows a $ORIGIN or $TTL line in its simplest form. false:
// the file must be parsed whole.
func (ms *masterStream) directive(l []byte) bool {
	var toks [3][]byte
	n, ok := splitTokens(l, toks[:])
	if !ok || n != 2 {
		return false
	}
	switch strings.ToUpper(string(toks[0])) {
	case "$TTL":
		ttl, ok := parseTTL(toks[1])
		if !ok {
			return false
		}
		ms.ttl, ms.hasTTL, ms.ttlByDirective = ttl, true, true
	case "$ORIGIN":
		name := string(toks[1])
		// miekg/dns's lexer may take the value for a type or a class.
		upper := strings.ToUpper(name)
		if _, isType := dns.StringToType[upper]; isType || strings.HasPrefix(upper, "TYPE") {
			return false
		}
		if _, isClass := dns.StringToClass[upper]; isClass || strings.HasPrefix(upper, "CLASS") {
			return false
		}
		origin, ok := absoluteName(name, ms.origin)
		if !ok || name == "" {
			return false
		}
		ms.origin, ms.ownerTok = origin, nil
	default:
		return false // $GENERATE, $INCLUDE, or one miekg/dns refuses
	}
	return true
}

// splitTokens splits a line at blanks into toks, up to a comment. ok is
// false when there are more tokens than room, or a carriage return inside
// the line (miekg/dns's lexer drops it, joining what is around it).
func splitTokens(l []byte, toks [][]byte) (n int, ok bool) {
	if k := len(l); k > 0 && l[k-1] == '\r' {
		l = l[:k-1]
	}
	for i := 0; i < len(l); {
		switch l[i] {
		case ' ', '\t':
			i++
			continue
		case ';':
			return n, true
		}
		start := i
		for i < len(l) && l[i] != ' ' && l[i] != '\t' && l[i] != ';' {
			if l[i] == '\r' {
				return n, false
			}
			i++
		}
		if n == len(toks) {
			return n, false
		}
		toks[n] = l[start:i]
		n++
	}
	return n, true
}

// plainLine is a line read as an address record in its simplest form:
// "[owner] [TTL] [IN] A|AAAA address", TTL and class in either order.
type plainLine struct {
	ownerTok []byte // nil: the line starts with a blank
	ttl      uint32
	hasTTL   bool
	typ      uint16
	addr     [16]byte
}

// readPlain reads l as a plainLine, as miekg/dns reads it. false: it is
// not one (then miekg/dns reads it, or says what is wrong).
func readPlain(l []byte, pl *plainLine) bool {
	var toks [6][]byte
	n, ok := splitTokens(l, toks[:])
	if !ok || n < 2 {
		return false
	}
	k := 0
	pl.ownerTok = nil
	if l[0] != ' ' && l[0] != '\t' {
		pl.ownerTok, k = toks[0], 1
	}
	pl.hasTTL = false
	hasClass := false
	for ; k < n; k++ {
		t := toks[k]
		if t[0] >= '0' && t[0] <= '9' && !pl.hasTTL {
			if pl.ttl, ok = parseTTL(t); !ok {
				return false
			}
			pl.hasTTL = true
			continue
		}
		if !hasClass && len(t) == 2 && strings.EqualFold(string(t), "IN") {
			hasClass = true
			continue
		}
		break
	}
	if k != n-2 {
		return false // not exactly a type and its address left
	}
	switch typ := toks[k]; {
	case len(typ) == 1 && (typ[0] == 'A' || typ[0] == 'a'):
		a, ok := parseIPv4(toks[k+1])
		if !ok {
			return false
		}
		copy(pl.addr[:], a[:])
		pl.typ = dns.TypeA
	case len(typ) == 4 && strings.EqualFold(string(typ), "AAAA"):
		if pl.addr, ok = parseIPv6(toks[k+1]); !ok {
			return false
		}
		pl.typ = dns.TypeAAAA
	default:
		return false
	}
	return true
}

// plain makes pl, read on line, a record in the stream's state, and takes
// its owner and TTL as the next records' defaults. false: the record
// depends on what miekg/dns would make of what came before (no owner or
// TTL to inherit), or names its owner in a way left to miekg/dns.
func (ms *masterStream) plain(pl *plainLine, line int, r *record) bool {
	owner := ms.owner
	if pl.ownerTok != nil {
		var ok bool
		if owner, ok = ms.ownerName(pl.ownerTok); !ok {
			return false
		}
	} else if owner == "" {
		return false
	}
	ttl := pl.ttl
	switch {
	case pl.hasTTL && !ms.ttlByDirective:
		ms.ttl, ms.hasTTL = ttl, true
	case pl.hasTTL:
	case ms.hasTTL:
		ttl = ms.ttl
	default:
		return false
	}
	if pl.ownerTok != nil {
		ms.owner, ms.ownerTok = owner, pl.ownerTok
	}
	*r = record{name: owner, typ: pl.typ, ttl: ttl, addr: pl.addr, order: OrderRandom, at: masterPlace(line)}
	return true
}

// ownerName is the owner a record's first token names, fully qualified.
// Only names of letters, digits, '-', '_' and '*' are read here.
func (ms *masterStream) ownerName(tok []byte) (string, bool) {
	if len(tok) == 1 && tok[0] == '@' {
		return ms.origin, true
	}
	if ms.ownerTok != nil && bytes.Equal(tok, ms.ownerTok) {
		return ms.owner, true
	}
	if !simpleName(tok) {
		return "", false
	}
	var name string
	switch {
	case tok[len(tok)-1] == '.':
		name = string(tok)
	case ms.origin == ".":
		name = string(tok) + "."
	default:
		name = string(tok) + "." + ms.origin
	}
	if len(name) > 254 { // 255 octets on the wire, or fewer with escapes in the origin
		return "", false
	}
	return name, true
}

// simpleName reports whether tok is a name of labels of letters, digits,
// '-', '_' and '*', 1 to 63 characters each, with or without a final dot.
func simpleName(tok []byte) bool {
	label := 0
	for _, c := range tok {
		switch {
		case c == '.':
			if label == 0 {
				return false // an empty label
			}
			label = 0
			continue
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '*':
		default:
			return false
		}
		if label++; label > 63 {
			return false
		}
	}
	return len(tok) > 0
}

// parseTTL reads a TTL as miekg/dns does: digits, with BIND's units
// (1h30m). A value over 32 bits, which its arithmetic may wrap around,
// is not one here.
func parseTTL(tok []byte) (uint32, bool) {
	var total, n uint64
	for _, c := range tok {
		var unit uint64
		switch c | 0x20 { // lower case
		case 's':
			unit = 1
		case 'm':
			unit = 60
		case 'h':
			unit = 60 * 60
		case 'd':
			unit = 60 * 60 * 24
		case 'w':
			unit = 60 * 60 * 24 * 7
		}
		switch {
		case c >= '0' && c <= '9':
			n = n*10 + uint64(c-'0')
		case unit > 0:
			total, n = total+n*unit, 0
		default:
			return 0, false
		}
		if total+n > 1<<32-1 {
			return 0, false
		}
	}
	return uint32(total + n), len(tok) > 0
}

// parseIPv4 reads a dotted-quad IPv4 address as net.ParseIP does: four
// decimal fields of at most 255, without leading zeros.
func parseIPv4(tok []byte) (a [4]byte, ok bool) {
	i := 0
	for k := range 4 {
		if k > 0 {
			if i == len(tok) || tok[i] != '.' {
				return a, false
			}
			i++
		}
		start, v := i, 0
		for i < len(tok) && tok[i] >= '0' && tok[i] <= '9' && i-start < 3 {
			v = v*10 + int(tok[i]-'0')
			i++
		}
		if i == start || v > 255 || (i-start > 1 && tok[start] == '0') {
			return a, false
		}
		a[k] = byte(v)
	}
	return a, i == len(tok)
}

// parseIPv6 reads an AAAA record's address as miekg/dns does (net.ParseIP,
// and a colon): IPv4-mapped addresses included, zones not.
func parseIPv6(tok []byte) (a [16]byte, ok bool) {
	if bytes.IndexByte(tok, ':') < 0 || bytes.IndexByte(tok, '%') >= 0 {
		return a, false
	}
	addr, err := netip.ParseAddr(string(tok))
	if err != nil || addr.Zone() != "" {
		return a, false
	}
	return addr.As16(), true
}
