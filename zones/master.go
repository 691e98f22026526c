package zones

import (
	"bytes"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/dnsrr/dnsrr/zones/tomlfile"
	"github.com/miekg/dns"
)

// loadMaster reads an RFC 1035 master file, as BIND and NSD serve them. Its
// origin is the owner of its SOA record; names before any $ORIGIN are
// relative to the origin guessed from the file name (lb.example.com.zone,
// db.lb.example.com). An RRset of several addresses becomes a pool with the
// default random order. It returns the file's source and zone (nil when
// the file has problems: syntax errors in errs, the zone's in built).
func loadMaster(path string, text []byte, lim Limits, errs *tomlfile.List, p pace) (src *source, z *Zone, built *tomlfile.List) {
	if err := checkGenerate(path, text, lim); err != nil {
		errs.Append(err)
		return nil, nil, nil
	}
	origin := originFromFileName(path)
	if ms, ok := streamMaster(path, text, origin, lim, p); ok {
		return ms.finish() // without text, which the collector may take
	}
	return loadMasterWhole(path, text, origin, lim, errs, p)
}

// loadMasterWhole is loadMaster parsing the whole file with miekg/dns
// first, in parallel pieces: on a syntax error it reports every one, each
// at its line.
func loadMasterWhole(path string, text []byte, origin string, lim Limits, errs *tomlfile.List, p pace) (src *source, z *Zone, built *tomlfile.List) {
	scan := scanMasterLimited(text, p.parts(len(text)), origin, lim.MaxRecords)
	if scan.tooMany {
		errs.Append(tooManyRecords(path, lim))
		return nil, nil, nil
	}
	rrs, parseErrs := parseMasterLimited(text, scan.parts, origin, path, p, lim.MaxRecords)
	if len(rrs) > lim.MaxRecords {
		errs.Append(tooManyRecords(path, lim))
		return nil, nil, nil
	}
	if len(parseErrs) > 0 {
		errs.Append(redactNotAZone(path, text, rrs, parseErrs)...)
		return nil, nil, nil
	}
	lines := scan.lines
	if !scan.ok || len(lines) != len(rrs) {
		lines = nil // errors go without a line rather than with a wrong one
	}
	src = &source{file: path, foldDuplicates: true, limits: lim}
	for i, rr := range rrs {
		if h := rr.Header(); h.Rrtype == dns.TypeSOA {
			if src.line == nil && lines != nil {
				line := lines[i]
				src.line = func() int { return line }
			}
			if h.Name != "" {
				src.origin = canonicalName(dns.Fqdn(h.Name))
				break
			}
		}
	}
	if !checkGenericData(path, text, rrs, lines, errs) {
		return nil, nil, nil
	}
	if src.origin == "" {
		errs.Add(path, 0, "", "no SOA record: the zone's origin is the owner of its SOA")
		return nil, nil, nil
	}
	built = &tomlfile.List{}
	b := newBuilder(src, built, p, ownerRunsIn(text))
	for i, rr := range rrs {
		line := 0
		if lines != nil {
			line = lines[i]
		}
		rrs[i] = nil // the zone keeps what it needs of it
		if !b.add(&record{rr: rr, order: OrderRandom, at: masterPlace(line)}) {
			break
		}
	}
	return src, b.finish(), built
}

// parseMaster parses a master file with miekg/dns, in parallel pieces when
// scanMaster found where to cut it. Each piece starts at a record with an
// explicit owner, behind the $ORIGIN and $TTL in force there, so it parses
// as it would in place. On any error the file is parsed again whole, so
// that every error is reported, each on the line a sequential parse gives.
func parseMaster(text []byte, parts []masterPart, origin, path string, p pace) ([]dns.RR, []error) {
	return parseMasterLimited(text, parts, origin, path, p, DefaultLimits().MaxRecords)
}

// parseMasterLimited is parseMaster that stops after more than maxRecords
// records (the caller reports it).
func parseMasterLimited(text []byte, parts []masterPart, origin, path string, p pace, maxRecords int) ([]dns.RR, []error) {
	if len(parts) > 0 {
		results := make([][]dns.RR, len(parts)+1)
		failed := make([]bool, len(parts)+1)
		var wg sync.WaitGroup
		for k := range results {
			from, to, prefix := 0, len(text), ""
			if k > 0 {
				from, prefix = parts[k-1].offset, parts[k-1].prefix
			}
			if k < len(parts) {
				to = parts[k].offset
			}
			wg.Add(1)
			p.spawn(func() {
				defer wg.Done()
				r := io.MultiReader(strings.NewReader(prefix), bytes.NewReader(text[from:to]))
				// Room for a record per line: growing the list as it fills
				// made a fifth of a large file's garbage.
				size := bytes.Count(text[from:to], []byte{'\n'}) + 1
				results[k], failed[k] = parseAll(r, origin, path, p, min(size, maxRecords+1), maxRecords)
			})
		}
		wg.Wait()
		if !slices.Contains(failed, true) {
			return slices.Concat(results...), nil
		}
	}
	return parseMasterResuming(text, origin, path, p, maxRecords)
}

func parseAll(r io.Reader, origin, path string, p pace, size, maxRecords int) (rrs []dns.RR, failed bool) {
	rrs = make([]dns.RR, 0, size)
	zp := dns.NewZoneParser(r, origin, path)
	zp.SetIncludeAllowed(false)
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if len(rrs) == maxRecords {
			return rrs, true // the whole file again: it stops there and says so
		}
		if !p.yield(len(rrs)) {
			break
		}
		rrs = append(rrs, rr)
	}
	return rrs, zp.Err() != nil
}

// splitParseError takes apart miekg/dns's `file: dns: msg: "token" at line:
// L:C` into a message that quotes the token, and the line.
func splitParseError(pe *dns.ParseError) (msg string, line int) {
	s := pe.Error()
	if i := strings.Index(s, "dns: "); i >= 0 {
		s = s[i+len("dns: "):]
	}
	rest, pos, _ := strings.Cut(s, " at line: ")
	if lineStr, _, ok := strings.Cut(pos, ":"); ok {
		line, _ = strconv.Atoi(lineStr)
	}
	if m, tok, ok := strings.Cut(rest, ": "); ok && tok != `""` {
		return m + " at " + tok, line
	}
	return strings.TrimSuffix(rest, `: ""`), line
}

// originFromFileName guesses a zone's origin from conventional file names.
func originFromFileName(path string) string {
	base := strings.ToLower(filepath.Base(path))
	for _, suffix := range []string{".zone", ".db", ".rfc1035", ".txt"} {
		base = strings.TrimSuffix(base, suffix)
	}
	base = strings.TrimPrefix(base, "db.")
	if _, ok := dns.IsDomainName(base); !ok || base == "" {
		return "."
	}
	return dns.Fqdn(base)
}
