package zones

import (
	"errors"
	"fmt"

	"github.com/dnsrr/dnsrr/zones/tomlfile"
	"github.com/miekg/dns"
)

// Limits bound what loading one zone file may cost, so that no file (a
// mistake, a file cut short, a hostile one) can take the server's memory
// or time. Each is checked before the work it bounds is done, and a zone
// over a limit fails like any bad zone: a reload keeps its old version.
// A zero field takes its default (DefaultLimits); the README's "Limits"
// section gives the reason for each.
type Limits struct {
	// MaxZoneFileSize is the largest RFC 1035 master file, in bytes.
	MaxZoneFileSize int64
	// MaxTOMLFileSize is the largest TOML zone file, in bytes. Lower than
	// for master files: decoding TOML takes about 30 times the file's size.
	MaxTOMLFileSize int64
	// MaxRecords is the most records in one zone.
	MaxRecords int
	// MaxNames is the most names in one zone, counting the empty
	// non-terminals that records below them create.
	MaxNames int
	// MaxRRsetRecords is the most records of one name and type.
	MaxRRsetRecords int
	// MaxGenerateRange is the most records one $GENERATE line may yield.
	MaxGenerateRange int
	// MaxGenerateTotal is the most records all $GENERATE lines of one file
	// may yield together.
	MaxGenerateTotal int
	// MaxTOMLDepth is the deepest nesting of tables, arrays and dotted keys
	// in a TOML file (dnsrr's formats need 5).
	MaxTOMLDepth int
	// MaxTOMLLineLength is the longest line of a TOML file, in bytes.
	MaxTOMLLineLength int
	// MaxCAFileSize is the largest ca_file of an https check, in bytes
	// (read by the server when it sets up probes, not by Load).
	MaxCAFileSize int64
}

// DefaultLimits are the limits when nothing else is configured: above the
// largest zones dnsrr is known to serve (a master file of 200 MB, 7 million
// records), low enough that a load cannot take more than a few GB.
func DefaultLimits() Limits {
	return Limits{
		MaxZoneFileSize:   256 << 20,
		MaxTOMLFileSize:   32 << 20,
		MaxRecords:        10_000_000,
		MaxNames:          10_000_000,
		MaxRRsetRecords:   4096,
		MaxGenerateRange:  65536,
		MaxGenerateTotal:  1_000_000,
		MaxTOMLDepth:      32,
		MaxTOMLLineLength: 1 << 20,
		MaxCAFileSize:     1 << 20,
	}
}

// WithDefaults returns l with every zero field set to its default.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits()
	set := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	set64 := func(v *int64, def int64) {
		if *v <= 0 {
			*v = def
		}
	}
	set64(&l.MaxZoneFileSize, d.MaxZoneFileSize)
	set64(&l.MaxTOMLFileSize, d.MaxTOMLFileSize)
	set(&l.MaxRecords, d.MaxRecords)
	set(&l.MaxNames, d.MaxNames)
	set(&l.MaxRRsetRecords, d.MaxRRsetRecords)
	set(&l.MaxGenerateRange, d.MaxGenerateRange)
	set(&l.MaxGenerateTotal, d.MaxGenerateTotal)
	set(&l.MaxTOMLDepth, d.MaxTOMLDepth)
	set(&l.MaxTOMLLineLength, d.MaxTOMLLineLength)
	set64(&l.MaxCAFileSize, d.MaxCAFileSize)
	return l
}

// limitError is the problem of a file over a limit: it names the limit's
// configuration key, so the operator knows what to raise.
func limitError(file string, line int, key string, limit int64, format string, args ...any) *tomlfile.Error {
	return &tomlfile.Error{File: file, Line: line,
		Msg: fmt.Sprintf(format, args...) + fmt.Sprintf(", above the limit of %d ([limits] %s)", limit, key)}
}

// errTooManyRecords stops a parse at MaxRecords.
var errTooManyRecords = errors.New("too many records")

// tomlLimits are the limits that tomlfile checks before decoding.
func tomlLimits(lim Limits) tomlfile.Limits {
	return tomlfile.Limits{
		MaxDepth: lim.MaxTOMLDepth, DepthKey: "[limits] max_toml_depth",
		MaxLineLength: lim.MaxTOMLLineLength, LineLengthKey: "[limits] max_toml_line_length",
		// Key paths as long as the file: a zone's are a fraction of it.
		MaxKeyBytes: lim.MaxTOMLFileSize, KeyBytesKey: "[limits] max_toml_file_size",
	}
}

func rrsetTooLarge(file string, line int, name string, typ uint16, lim Limits) *tomlfile.Error {
	return limitError(file, line, "max_rrset_records", int64(lim.MaxRRsetRecords),
		"the %s set of %s has more records", dns.TypeToString[typ], name)
}

func tooManyNames(file string, lim Limits) *tomlfile.Error {
	return limitError(file, 0, "max_names", int64(lim.MaxNames),
		"the zone has more than %d names (counting empty non-terminals)", lim.MaxNames)
}
