package zones

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// badCases maps each file under testdata/bad to every problem Load must
// report for it, exactly and in order (by line). One mistake is one
// message: a missing or misplaced key must not also be reported as the
// zone-wide problem it causes. Files are loaded by relative path, so the
// messages are what `dnsrr check` prints for them.
var badCases = []struct {
	file string
	want []string
}{
	// Missing pieces. A missing key has no line of its own.
	{"missing_origin.toml", []string{
		`testdata/bad/missing_origin.toml: origin is missing: name the zone, e.g. origin = "lb.example.com."`}},
	{"missing_soa.toml", []string{
		`testdata/bad/missing_soa.toml: [soa] is missing: a zone needs serial and minimum at least`}},
	{"missing_ns.toml", []string{
		`testdata/bad/missing_ns.toml: ns is missing: list the zone's name servers, e.g. ns = ["ns1", "ns2"]`}},
	{"empty_ns.toml", []string{
		`testdata/bad/empty_ns.toml:2: zone bad.test. has no NS records at the apex`}},
	{"missing_serial.toml", []string{
		`testdata/bad/missing_serial.toml:4: soa: serial is missing`}},

	// Bad top-level values.
	{"bad_origin.toml", []string{
		`testdata/bad/bad_origin.toml:2: origin: "bad..test." is not a valid domain name`}},
	{"origin_not_string.toml", []string{
		`testdata/bad/origin_not_string.toml:2: origin: must be a string, not an integer`}},
	{"ttl_negative.toml", []string{
		`testdata/bad/ttl_negative.toml:3: ttl: -1 is out of range 0..2147483647`}},
	// RFC 2181 §8: a TTL is at most 2^31-1.
	{"ttl_too_big.toml", []string{
		`testdata/bad/ttl_too_big.toml:3: ttl: 2147483648 is out of range 0..2147483647`}},
	{"ttl_string.toml", []string{
		`testdata/bad/ttl_string.toml:3: ttl: must be an integer, not a string`}},
	// RFC 1035 §3.3.13: the serial is an unsigned 32-bit number.
	{"serial_too_big.toml", []string{
		`testdata/bad/serial_too_big.toml:5: soa.serial: 4294967296 is out of range 0..4294967295`}},
	{"ns_not_string.toml", []string{
		`testdata/bad/ns_not_string.toml:5: ns: element 2 must be a string, not an integer`}},
	{"bad_mname.toml", []string{
		`testdata/bad/bad_mname.toml:6: soa.mname: "not a name" is not a valid host name`}},

	// Unknown and misplaced keys: a typo must never become a default.
	{"unknown_top.toml", []string{
		`testdata/bad/unknown_top.toml:3: tll: unknown key`}},
	{"unknown_soa.toml", []string{
		`testdata/bad/unknown_soa.toml:6: soa.minimun: unknown key`}},
	{"unknown_pool.toml", []string{
		`testdata/bad/unknown_pool.toml:6: pools.www: addresses is missing: a pool needs at least one address`,
		`testdata/bad/unknown_pool.toml:7: pools.www.adresses: unknown key`}},
	{"unknown_record_type.toml", []string{
		`testdata/bad/unknown_record_type.toml:8: records.www.mxx: unknown key`}},
	{"unquoted_dotted_owner.toml", []string{
		`testdata/bad/unquoted_dotted_owner.toml:6: records._sip._tcp: unknown key: if you meant the name "_sip._tcp", quote it: [records."_sip._tcp"]`}},
	// Wherever a name with dots went unquoted, the error says how to
	// write it, once per name, and nothing else about it.
	{"unquoted_dotted_names.toml", []string{
		`testdata/bad/unquoted_dotted_names.toml:6: pools.www.eu: unknown key: if you meant the name "www.eu", quote it: [pools."www.eu"]`,
		`testdata/bad/unquoted_dotted_names.toml:8: pools.www.us: unknown key: if you meant the name "www.us", quote it: [pools."www.us"]`,
		`testdata/bad/unquoted_dotted_names.toml:10: pools.a.b.c: unknown key: if you meant the name "a.b.c", quote it: [pools."a.b.c"]`,
		`testdata/bad/unquoted_dotted_names.toml:12: records._sip._tcp: unknown key: if you meant the name "_sip._tcp", quote it: [records."_sip._tcp"]`,
		`testdata/bad/unquoted_dotted_names.toml:16: records.mail.eu: unknown key: if you meant the name "mail.eu", quote it: [records."mail.eu"]`,
		`testdata/bad/unquoted_dotted_names.toml:18: checks.web.eu: unknown key: if you meant the name "web.eu", quote it: [checks."web.eu"]`}},
	// A table holding only sub-tables has the line of its first header.
	{"misspelt_parent_table.toml", []string{
		`testdata/bad/misspelt_parent_table.toml:6: pool: unknown key`}},
	{"soa_in_records.toml", []string{
		`testdata/bad/soa_in_records.toml:7: records.www.soa: the SOA record is written in the [soa] table, not under soa`}},
	// The types a master file has and TOML gained: their data is parsed as
	// in a master file, with the same errors.
	{"bad_new_types.toml", []string{
		`testdata/bad/bad_new_types.toml:7: records.host.hinfo: "\"unterminated" is not valid HINFO data: bad HINFO Fields at " "`,
		`testdata/bad/bad_new_types.toml:8: records.host.loc: "52 22 23.000 X 4 53 32.000 E 0m" is not valid LOC data: bad LOC Latitude North/South at "X"`,
		`testdata/bad/bad_new_types.toml:9: records.host.uri: "10 1" is not valid URI data: bad URI Target at "1"`,
		`testdata/bad/bad_new_types.toml:10: records.host.rp: "admin.other.test." is not valid RP data: bad RP Txt at " "`}},
	// RFC 3597 generic data: a known type must decode from exactly the
	// bytes given (miekg/dns alone drops extra ones); the length must match.
	{"bad_generic.toml", []string{
		`testdata/bad/bad_generic.toml:7: records.g.a: \# 5: the A data ends before the last of the 5 bytes`,
		`testdata/bad/bad_generic.toml:8: records.g.aaaa: \# 3: 3 bytes that are not AAAA data: AAAA: dns: overflow unpacking aaaa`,
		`testdata/bad/bad_generic.toml:9: records.g.mx: the Mx name is missing: is the file cut short? "10 " is incomplete or invalid for MX`,
		`testdata/bad/bad_generic.toml:10: records.g.type65280: \# 1: the data is not hex: encoding/hex: invalid byte: U+007A 'z'`,
		`testdata/bad/bad_generic.toml:10: records.g.type65280: \# 3: the length says 3 bytes, the data holds 2`,
		`testdata/bad/bad_generic.toml:10: records.g.type65280: \# needs the data's length and the data in hex, e.g. \# 4 c0000201`,
		`testdata/bad/bad_generic.toml:10: records.g.type65280: \# x: the length must be a number of bytes, 0 to 65535`,
		`testdata/bad/bad_generic.toml:11: records.g.type65281: "0a0b0c": TYPE65281 has no presentation form dnsrr knows; write it in RFC 3597's generic form, \# LENGTH HEX`}},
	// The same check in master files: the record's text is read again.
	{"bad_generic.zone", []string{
		`testdata/bad/bad_generic.zone:8: a2.bad.test. A: \# 5: the A data ends before the last of the 5 bytes`,
		`testdata/bad/bad_generic.zone:9: a2.bad.test. A: \# 5: the A data ends before the last of the 5 bytes`,
		`testdata/bad/bad_generic.zone:11: a4.bad.test. MX: \# 9: the MX data ends before the last of the 9 bytes`}},
	// RFC 6895 §3.1: meta and query types exist only in messages.
	{"meta_types.toml", []string{
		`testdata/bad/meta_types.toml:7: records.m.opt: OPT is a meta or query type (RFC 6895 §3.1): it exists only in messages, not as zone data`,
		`testdata/bad/meta_types.toml:8: records.m.tsig: TSIG is a meta or query type (RFC 6895 §3.1): it exists only in messages, not as zone data`,
		`testdata/bad/meta_types.toml:9: records.m.tkey: TKEY is a meta or query type (RFC 6895 §3.1): it exists only in messages, not as zone data`,
		`testdata/bad/meta_types.toml:10: records.m.axfr: AXFR is a meta or query type (RFC 6895 §3.1): it exists only in messages, not as zone data`,
		`testdata/bad/meta_types.toml:11: records.m.ixfr: IXFR is a meta or query type (RFC 6895 §3.1): it exists only in messages, not as zone data`,
		`testdata/bad/meta_types.toml:12: records.m.any: ANY is a meta or query type (RFC 6895 §3.1): it exists only in messages, not as zone data`,
		`testdata/bad/meta_types.toml:13: records.m.type41: OPT is a meta or query type (RFC 6895 §3.1): it exists only in messages, not as zone data`,
		`testdata/bad/meta_types.toml:14: records.m.type0: type 0 is reserved (RFC 6895 §3.1): it cannot be zone data`,
		`testdata/bad/meta_types.toml:15: records.m.type65535: type 65535 is reserved (RFC 6895 §3.1): it cannot be zone data`}},
	// Explicit TXT character-strings: at most 255 bytes each, escapes
	// well formed, at least one string; only txt takes arrays.
	{"bad_txt_strings.toml", []string{
		`testdata/bad/bad_txt_strings.toml:8: records.t.txt: character-string 1 is 256 bytes, at most 255 fit (RFC 1035 §3.3): split it into several strings`,
		`testdata/bad/bad_txt_strings.toml:9: records.t.txt: character-string 1 "bad \\25x": \DDD takes exactly three decimal digits (\007, \255)`,
		`testdata/bad/bad_txt_strings.toml:10: records.t.txt: character-string 1 "\\256": \256 is not a byte: at most \255`,
		`testdata/bad/bad_txt_strings.toml:11: records.t.txt: character-string 1 "trailing \\": ends in a lone \ (a backslash is written \\)`,
		`testdata/bad/bad_txt_strings.toml:12: records.t.txt: a TXT record needs at least one character-string ([""] is one empty string)`,
		`testdata/bad/bad_txt_strings.toml:13: records.t.txt: element 6, part 2 must be a string, not an integer`,
		`testdata/bad/bad_txt_strings.toml:14: records.t.txt: element 7 must be a string or an array of strings, not an integer`,
		`testdata/bad/bad_txt_strings.toml:16: records.t.mx: element 1 must be a string, not an array: only txt takes a list of character-strings`}},
	// The same refusal in master files, and an escape that is no byte.
	{"meta_types.zone", []string{
		`testdata/bad/meta_types.zone:6: m.bad.test. OPT: OPT is a meta or query type (RFC 6895 §3.1): it exists only in messages, not as zone data`,
		`testdata/bad/meta_types.zone:7: m.bad.test. TSIG: TSIG is a meta or query type (RFC 6895 §3.1): it exists only in messages, not as zone data`,
		`testdata/bad/meta_types.zone:8: m.bad.test. TKEY: TKEY is a meta or query type (RFC 6895 §3.1): it exists only in messages, not as zone data`,
		`testdata/bad/meta_types.zone:9: m.bad.test. AXFR: AXFR is a meta or query type (RFC 6895 §3.1): it exists only in messages, not as zone data`,
		`testdata/bad/meta_types.zone:10: m.bad.test. None: type 0 is reserved (RFC 6895 §3.1): it cannot be zone data`,
		`testdata/bad/meta_types.zone:11: bad\999.bad.test. A: a \DDD escape in a name stands for one byte, \000 to \255`}},
	// Escaped owner names are allowed; bare spaces and broken escapes are not.
	{"bad_escaped_owner.toml", []string{
		`testdata/bad/bad_escaped_owner.toml:6: records."a b": "a b" is not a valid owner name`,
		`testdata/bad/bad_escaped_owner.toml:8: records.bad\: "bad\\" is not a valid owner name`,
		`testdata/bad/bad_escaped_owner.toml:10: records.\999: "\\999" is not a valid owner name`}},
	{"ns_after_soa.toml", []string{
		`testdata/bad/ns_after_soa.toml:5: soa.ns: belongs at the top of the file, before [soa]`}},
	{"origin_after_soa.toml", []string{
		`testdata/bad/origin_after_soa.toml:5: soa.origin: belongs at the top of the file, before [soa]`}},
	{"record_table_without_data.toml", []string{
		`testdata/bad/record_table_without_data.toml:7: records.www.txt.dta: unknown key`,
		`testdata/bad/record_table_without_data.toml:7: records.www.txt: data is missing`}},

	// Pools.
	{"bad_order.toml", []string{
		`testdata/bad/bad_order.toml:8: pools.www.order: "round-robin" is not an order: use random, cyclic or fixed`}},
	{"bad_address.toml", []string{
		`testdata/bad/bad_address.toml:9: pools.www.addresses: "192.0.2.300" is not an IP address`}},
	{"empty_pool.toml", []string{
		`testdata/bad/empty_pool.toml:7: pools.www.addresses: a pool needs at least one address`}},
	{"pool_without_addresses.toml", []string{
		`testdata/bad/pool_without_addresses.toml:6: pools.www: addresses is missing: a pool needs at least one address`}},
	// The pool table is made by the dotted key on line 7, not by [pools].
	{"dotted_pool.toml", []string{
		`testdata/bad/dotted_pool.toml:7: pools.www: addresses is missing: a pool needs at least one address`}},
	{"dup_pool_address.toml", []string{
		`testdata/bad/dup_pool_address.toml:10: pools.www.addresses: duplicate record "192.0.2.1" (first at line 8)`}},

	// Inline tables and arrays spanning lines inside them.
	{"inline_pool.toml", []string{
		`testdata/bad/inline_pool.toml:8: pools.www.addresses: "192.0.2.256" is not an IP address`,
		`testdata/bad/inline_pool.toml:8: pools.www.order: "rr" is not an order: use random, cyclic or fixed`}},
	{"record_data_multiline.toml", []string{
		`testdata/bad/record_data_multiline.toml:9: records."@".mx.data: "twenty mx2.other.test." is not valid MX data: bad MX Pref at "twenty"`}},

	// Record data.
	{"ipv6_under_a.toml", []string{
		`testdata/bad/ipv6_under_a.toml:7: records.www.a: 2001:db8::1 is an IPv6 address: put it under aaaa`}},
	{"ipv4_under_aaaa.toml", []string{
		`testdata/bad/ipv4_under_aaaa.toml:7: records.www.aaaa: 192.0.2.1 is an IPv4 address: put it under a`}},
	{"bad_mx.toml", []string{
		`testdata/bad/bad_mx.toml:7: records."@".mx: "mail.other.test." is not valid MX data: bad MX Pref at "mail.other.test."`}},
	{"bad_srv.toml", []string{
		`testdata/bad/bad_srv.toml:7: records."_sip._tcp".srv: "0 5 sip.other.test." is not valid SRV data: bad SRV Port at "sip.other.test."`}},
	{"bad_caa.toml", []string{
		`testdata/bad/bad_caa.toml:7: records."@".caa: "x issue \"ca.example\"" is not valid CAA data: bad CAA Flag at "x"`}},
	{"record_with_comment.toml", []string{
		`testdata/bad/record_with_comment.toml:7: records."@".mx: "10 mail.other.test. ; primary": a ';' outside quotes starts a comment; quote it or leave it out`}},
	{"record_not_string.toml", []string{
		`testdata/bad/record_not_string.toml:7: records.www.a: must be a string or an array of strings, not an integer`}},
	{"bad_owner.toml", []string{
		`testdata/bad/bad_owner.toml:6: records."bad name": "bad name" is not a valid owner name`}},
	// RFC 2181 §5.2: the records of one RRset share one TTL.
	{"ttl_mismatch.toml", []string{
		`testdata/bad/ttl_mismatch.toml:11: records.www.a: www already has addresses in [pools.www]: list them all there`}},

	// Zone-wide rules.
	{"cname_beside.toml", []string{
		`testdata/bad/cname_beside.toml:7: records.www.cname: CNAME cannot coexist with other data at www.bad.test. (RFC 1034 §3.6.2)`}},
	{"cname_beside_pool.toml", []string{
		`testdata/bad/cname_beside_pool.toml:9: records.www.cname: CNAME cannot coexist with other data at www.bad.test. (RFC 1034 §3.6.2)`}},
	{"cname_apex.toml", []string{
		`testdata/bad/cname_apex.toml:7: records."@".cname: CNAME is not allowed at the zone apex (RFC 1912 §2.4)`}},
	{"two_cnames.toml", []string{
		`testdata/bad/two_cnames.toml:7: records.www.cname: a name can have only one CNAME`}},
	{"out_of_zone.toml", []string{
		`testdata/bad/out_of_zone.toml:7: records."www.other.test.".a: www.other.test. is outside the zone bad.test.`}},
	{"below_delegation.toml", []string{
		`testdata/bad/below_delegation.toml:9: records."www.dev".txt: TXT record below the delegation dev.bad.test. would never be served`}},
	{"at_delegation.toml", []string{
		`testdata/bad/at_delegation.toml:8: records.dev.mx: dev.bad.test. is a delegation point: only NS and DS records may sit there, not MX`}},
	{"glue_not_named.toml", []string{
		`testdata/bad/glue_not_named.toml:11: records."www.dev".a: glue www.dev.bad.test. below the delegation dev.bad.test. is not named by any NS record`}},
	{"ns_no_address.toml", []string{
		`testdata/bad/ns_no_address.toml:3: ns: name server ns1.bad.test. is inside the zone but has no A or AAAA record`}},
	{"glue_missing.toml", []string{
		`testdata/bad/glue_missing.toml:7: records.dev.ns: name server ns1.dev.bad.test. is inside the zone but has no A or AAAA record`}},
	// RFC 1034 §4.2.1: everything below a cut, a further cut included,
	// is the child's; the parent refers to the child, never past it.
	{"nested_delegation.toml", []string{
		`testdata/bad/nested_delegation.toml:9: records."sub.dev".ns: NS record below the delegation dev.bad.test. would never be served`}},
	// RFC 4592 §2.1.1: "*" is a wildcard only as the whole leftmost label.
	{"wildcard_middle.toml", []string{
		`testdata/bad/wildcard_middle.toml:7: records."a.*.b".a: a wildcard must be the whole leftmost label`,
		`testdata/bad/wildcard_middle.toml:9: records."*x".a: a wildcard must be the whole leftmost label`}},
	{"wildcard_delegation.toml", []string{
		`testdata/bad/wildcard_delegation.toml:7: records."*.dev".ns: a wildcard cannot be delegated (RFC 4592 §4.2)`}},
	{"ds_apex.toml", []string{
		`testdata/bad/ds_apex.toml:7: records."@".ds: DS records belong in the parent zone, not at the apex`}},
	{"ds_not_at_cut.toml", []string{
		`testdata/bad/ds_not_at_cut.toml:7: records.www.ds: a DS record belongs at a delegation: www.bad.test. has no NS records`}},
	{"ns_target_cname.toml", []string{
		`testdata/bad/ns_target_cname.toml:7: records.dev.ns: NS target alias.bad.test. is a CNAME, which RFC 2181 §10.3 forbids`}},
	{"mx_target_cname.toml", []string{
		`testdata/bad/mx_target_cname.toml:7: records."@".mx: MX target mail.bad.test. is a CNAME, which RFC 2181 §10.3 forbids`}},

	// A syntax error stops value checks; BurntSushi/toml reports where it
	// noticed (the line after the unclosed array).
	{"syntax_error.toml", []string{
		`testdata/bad/syntax_error.toml:4: ns: expected a comma (',') or array terminator (']'), but got '['`}},
	// Every syntax error, each at its line; no value errors after one
	// (see tomlfile.syntaxErrors).
	{"syntax_errors.toml", []string{
		`testdata/bad/syntax_errors.toml:3: ttl: expected value but found '\n' instead`,
		`testdata/bad/syntax_errors.toml:5: ns: expected a comma (',') or array terminator (']'), but got '['`,
		`testdata/bad/syntax_errors.toml:7: expected a top-level item to end with a newline, comment, or EOF, but got '6' instead`,
		`testdata/bad/syntax_errors.toml:8: expected '.' or ']' to end table name, but got '\n' instead`,
		`testdata/bad/syntax_errors.toml:12: pools.api.order: strings cannot contain newlines`,
		`testdata/bad/syntax_errors.toml:15: records.mail.mx: Key 'records.mail.mx' has already been defined.`}},

	// Several mistakes in one file: every one, each at its own line.
	{"five_mistakes.toml", []string{
		`testdata/bad/five_mistakes.toml:3: ttl: -5 is out of range 0..2147483647`,
		`testdata/bad/five_mistakes.toml:6: soa.serial: must be an integer, not a string`,
		`testdata/bad/five_mistakes.toml:8: pools.www.addresses: "192.0.2.999" is not an IP address`,
		`testdata/bad/five_mistakes.toml:9: pools.www.order: "sorted" is not an order: use random, cyclic or fixed`,
		`testdata/bad/five_mistakes.toml:12: records.mail.mx: "ten mail" is not valid MX data: bad MX Pref at "ten"`}},
	// Value mistakes do not hide zone-wide ones.
	{"mixed_mistakes.toml", []string{
		`testdata/bad/mixed_mistakes.toml:7: pools.www.addresses: "not-an-ip" is not an IP address`,
		`testdata/bad/mixed_mistakes.toml:9: records.docs.cname: CNAME cannot coexist with other data at docs.bad.test. (RFC 1034 §3.6.2)`,
		`testdata/bad/mixed_mistakes.toml:12: records."x.other.test.".a: x.other.test. is outside the zone bad.test.`}},

	// RFC 1035 master files: parse errors carry the parser's line; zone
	// rules are the same as for TOML and point at the offending record.
	{"syntax.zone", []string{
		`testdata/bad/syntax.zone:7: bad A A at "not-an-address"`}},
	// Every syntax error, not just the first (nsd-checkzone finds the
	// same ten, some a line later).
	{"many_mistakes.zone", []string{
		`testdata/bad/many_mistakes.zone:8: bad A A at "192.0.2.300"`,
		`testdata/bad/many_mistakes.zone:9: bad AAAA AAAA at "2001:db8::zz"`,
		`testdata/bad/many_mistakes.zone:10: bad MX Pref at "ten"`,
		`testdata/bad/many_mistakes.zone:12: bad SRV Port at "sip.other.test."`,
		`testdata/bad/many_mistakes.zone:13: bad owner name at "bad..name"`,
		`testdata/bad/many_mistakes.zone:14: not a TTL at "1x"`,
		`testdata/bad/many_mistakes.zone:15: unknown record type "BOGUS" (or a misplaced TTL or class)`,
		`testdata/bad/many_mistakes.zone:16: unknown directive $FOO: only $ORIGIN, $TTL and $GENERATE are read`,
		`testdata/bad/many_mistakes.zone:18: bad MX Mx at the end of the record`,
		`testdata/bad/many_mistakes.zone:19: the record ends before its data`}},
	// $INCLUDE could make the server read any file it can.
	{"include.zone", []string{
		`testdata/bad/include.zone:6: $INCLUDE directive not allowed at "/etc/passwd"`}},
	{"no_soa.zone", []string{
		`testdata/bad/no_soa.zone: no SOA record: the zone's origin is the owner of its SOA`}},
	{"ttl_mismatch.zone", []string{
		`testdata/bad/ttl_mismatch.zone:7: www.bad.test. A: TTL 60 differs from TTL 30 of the same RRset (RFC 2181 §5.2)`}},
	{"ttl_too_big.zone", []string{
		`testdata/bad/ttl_too_big.zone:6: www.bad.test. A: TTL 2147483648 is above the maximum 2147483647 (RFC 2181 §8)`}},
	{"two_soa.zone", []string{
		`testdata/bad/two_soa.zone:6: bad.test. SOA: zone bad.test. has more than one SOA record`}},
	{"soa_not_apex.zone", []string{
		`testdata/bad/soa_not_apex.zone:6: www.bad.test. SOA: SOA record is only allowed at the apex bad.test.`}},
	{"class_ch.zone", []string{
		`testdata/bad/class_ch.zone:6: www.bad.test. A: class CH is not served; only IN`}},
	{"out_of_zone.zone", []string{
		`testdata/bad/out_of_zone.zone:6: www.other.test. A: www.other.test. is outside the zone bad.test.`}},
	{"cname_beside.zone", []string{
		`testdata/bad/cname_beside.zone:6: www.bad.test. CNAME: CNAME cannot coexist with other data at www.bad.test. (RFC 1034 §3.6.2)`}},
}

// badDataCases are records that miekg/dns's parser accepts but that cannot
// be packed into a message: a server would fail on them at query time, so
// Load must refuse them. The wording is the implementer's; the file:line
// and key prefix are exact.
var badDataCases = []struct {
	file, prefix, contains string
}{
	{"bad_ds_hex.toml", "testdata/bad/bad_ds_hex.toml:8: records.dev.ds: ", `"1 8 2 01H3456789ABCDEF`},
	{"bad_tlsa_hex.toml", `testdata/bad/bad_tlsa_hex.toml:7: records."_443._tcp.www".tlsa: `, `"3 1 1 abc"`},
	// Found by FuzzLoadMaster (testdata/fuzz/FuzzLoadMaster/0de082bda3ad022b).
	{"bad_ds_hex.zone", "testdata/bad/bad_ds_hex.zone:7: dev.bad.test. DS: ", `"1 8 2 01H3456789ABCDEF`},
}

func TestLoadUnpackableData(t *testing.T) {
	for _, tt := range badDataCases {
		t.Run(tt.file, func(t *testing.T) {
			snap, err := Load([]string{"testdata/bad/" + tt.file})
			if err == nil {
				var bad []string
				for _, z := range snap.Zones() {
					for _, n := range z.nodes {
						bad = append(bad, unpackable(n)...)
					}
				}
				t.Fatalf("loaded without error; records that do not pack: %q", bad)
			}
			got := errorStrings(err)
			if len(got) != 1 || !strings.HasPrefix(got[0], tt.prefix) || !strings.Contains(got[0][len(tt.prefix):], tt.contains) {
				t.Errorf("errors %q, want one starting %q and quoting %q", got, tt.prefix, tt.contains)
			}
		})
	}
}

// unpackable lists the records of n that dns.PackRR refuses.
func unpackable(n *Node) []string {
	var out []string
	buf := make([]byte, 65535)
	for _, s := range n.Sets {
		for _, rr := range s.Records() {
			if _, err := dns.PackRR(rr, buf, 0, nil, false); err != nil {
				out = append(out, rr.String()+": "+err.Error())
			}
		}
	}
	return out
}

func TestLoadErrors(t *testing.T) {
	for _, tt := range badCases {
		t.Run(tt.file, func(t *testing.T) {
			path := "testdata/bad/" + tt.file
			snap, err := Load([]string{path})
			if err == nil {
				t.Fatalf("%s loaded without error", path)
			}
			if snap != nil {
				t.Error("Load returned a snapshot along with errors: nothing partial may be served")
			}
			got := errorStrings(err)
			if !equalStrings(got, tt.want) {
				t.Errorf("errors:\n got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			// Every problem is a located *Error, so `dnsrr check` and the
			// reload log can print it as file:line: key: message.
			for _, e := range Errors(err) {
				var ze *Error
				if !errors.As(e, &ze) || ze.File != path {
					t.Errorf("%q is not an *Error for %s", e, path)
				}
			}
		})
	}
}

// TestBadFilesAllCovered keeps the table and the directory in step.
func TestBadFilesAllCovered(t *testing.T) {
	listed := map[string]bool{"dup_origin_a.toml": true, "dup_origin_b.toml": true, "dup_origin.zone": true}
	for _, tt := range badCases {
		listed[tt.file] = true
	}
	for _, tt := range badDataCases {
		listed[tt.file] = true
	}
	entries, err := os.ReadDir("testdata/bad")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !listed[e.Name()] {
			t.Errorf("testdata/bad/%s has no expected errors in badCases", e.Name())
		}
		delete(listed, e.Name())
	}
	for f := range listed {
		t.Errorf("badCases lists %s, which does not exist", f)
	}
}

// TestDuplicateOrigin: two files for one zone is a mistake whichever format
// they are in; the first one named wins the message.
func TestDuplicateOrigin(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		want  []string
	}{
		{"two TOML files", []string{"testdata/bad/dup_origin_a.toml", "testdata/bad/dup_origin_b.toml"}, []string{
			"testdata/bad/dup_origin_b.toml:2: zone bad.test. is already loaded from testdata/bad/dup_origin_a.toml"}},
		{"TOML then master", []string{"testdata/bad/dup_origin_a.toml", "testdata/bad/dup_origin.zone"}, []string{
			"testdata/bad/dup_origin.zone:4: zone bad.test. is already loaded from testdata/bad/dup_origin_a.toml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, f := range tt.files {
				mustLoad(t, f) // each is fine alone
			}
			snap, err := Load(tt.files)
			if snap != nil || err == nil {
				t.Fatal("duplicate origins loaded")
			}
			if got := errorStrings(err); !equalStrings(got, tt.want) {
				t.Errorf("errors:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestLoadErrorsAcrossFiles: `dnsrr check` prints every error of every
// file, not just those of the first bad one.
func TestLoadErrorsAcrossFiles(t *testing.T) {
	files := []string{"testdata/bad/ttl_string.toml", exampleTOML, "testdata/bad/cname_beside.toml", "testdata/bad/include.zone"}
	_, err := Load(files)
	want := []string{
		`testdata/bad/ttl_string.toml:3: ttl: must be an integer, not a string`,
		`testdata/bad/cname_beside.toml:7: records.www.cname: CNAME cannot coexist with other data at www.bad.test. (RFC 1034 §3.6.2)`,
		`testdata/bad/include.zone:6: $INCLUDE directive not allowed at "/etc/passwd"`,
	}
	if got := errorStrings(err); !equalStrings(got, want) {
		t.Errorf("errors:\n got %q\nwant %q", got, want)
	}
}

func TestLoadMissingFile(t *testing.T) {
	for _, f := range []string{"testdata/nope.toml", "testdata/nope.zone"} {
		_, err := Load([]string{f})
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Load(%s) = %v, want a not-exist error", f, err)
		}
	}
}
