package config

import (
	"github.com/dnsrr/dnsrr/zones/tomlfile"
)

// readLimits reads the [limits] table into c.Limits; keys left out keep
// their defaults (zones.DefaultLimits).
func readLimits(root *tomlfile.Table, c *Config) {
	t, ok := root.Table("limits")
	if !ok {
		return
	}
	const maxSize = 1 << 40 // bytes: far above any file worth reading
	l := &c.Limits
	size := func(key string, v *int64) {
		raw, ok := t.Get(key)
		if !ok {
			return
		}
		n, err := parseSize(raw)
		switch {
		case err != nil:
			t.Errorf(key, "%v", err)
		case n < 1 || n > maxSize:
			t.Errorf(key, "%v is out of range: 1 byte to 1TiB", raw)
		default:
			*v = int64(n)
		}
	}
	count := func(key string, v *int, hi int64) {
		if n, ok := t.Int(key, 1, hi); ok {
			*v = int(n)
		}
	}
	size("max_zone_file_size", &l.MaxZoneFileSize)
	size("max_toml_file_size", &l.MaxTOMLFileSize)
	size("max_ca_file_size", &l.MaxCAFileSize)
	count("max_records", &l.MaxRecords, 1<<31)
	count("max_names", &l.MaxNames, 1<<31)
	count("max_rrset_records", &l.MaxRRsetRecords, 65535)
	count("max_generate_range", &l.MaxGenerateRange, 65536) // miekg/dns's own maximum
	count("max_generate_total", &l.MaxGenerateTotal, 1<<31)
	count("max_toml_depth", &l.MaxTOMLDepth, 1000)
	count("max_toml_line_length", &l.MaxTOMLLineLength, maxSize)
	t.Done()
}
