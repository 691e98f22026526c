package zones

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// dnameBadCases: every DNAME rule Load checks, with each message it must
// give (see badCases for the conventions).
var dnameBadCases = []struct {
	file string
	want []string
}{
	{"two_dnames.zone", []string{
		`testdata/dname/two_dnames.zone:7: old.bad.test. DNAME: a name can have only one DNAME (RFC 6672 §2.4)`}},
	{"cname_beside_dname.toml", []string{
		`testdata/dname/cname_beside_dname.toml:8: records.old.cname: CNAME cannot coexist with other data at old.bad.test. (RFC 1034 §3.6.2)`}},
	{"below_dname.toml", []string{
		`testdata/dname/below_dname.toml:10: records."x.old".txt: TXT record below the DNAME at old.bad.test. would never be served (RFC 6672 §2.3)`,
		`testdata/dname/below_dname.toml:12: pools."www.old".addresses: pool www.old.bad.test. is below the DNAME at old.bad.test.: its addresses would never be served (RFC 6672 §2.3)`}},
	{"below_dname.zone", []string{
		`testdata/dname/below_dname.zone:7: a.b.old.bad.test. MX: MX record below the DNAME at old.bad.test. would never be served (RFC 6672 §2.3)`}},
	{"below_apex_dname.zone", []string{
		`testdata/dname/below_apex_dname.zone:5: bad.test. NS: NS target ns1.bad.test. is below the DNAME at bad.test.: an alias, which RFC 2181 §10.3 forbids`,
		`testdata/dname/below_apex_dname.zone:7: ns1.bad.test. A: A record below the DNAME at bad.test. would never be served (RFC 6672 §2.3)`}},
	{"target_below_dname.toml", []string{
		`testdata/dname/target_below_dname.toml:9: records."@".mx: MX target mail.old.bad.test. is below the DNAME at old.bad.test.: an alias, which RFC 2181 §10.3 forbids`}},
	{"dname_at_cut.toml", []string{
		`testdata/dname/dname_at_cut.toml:8: records.dev.dname: dev.bad.test. is a delegation point: only NS and DS records may sit there, not DNAME`}},
}

func TestLoadDNAMEErrors(t *testing.T) {
	for _, tt := range dnameBadCases {
		t.Run(tt.file, func(t *testing.T) {
			snap, err := Load([]string{"testdata/dname/" + tt.file})
			if err == nil || snap != nil {
				t.Fatalf("loaded without error")
			}
			if got := errorStrings(err); !equalStrings(got, tt.want) {
				t.Errorf("errors:\n got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

// DNAMEs that are fine: beside other data (the owner itself is an ordinary
// node), at the apex beside SOA and NS, at a wildcard (RFC 4592 §4.4).
func TestLoadDNAME(t *testing.T) {
	z := mustTOMLString(t, `[records.old]
dname = { ttl = 120, data = ["new"] }
txt = "the owner keeps its own data"
[records.far]
dname = "example.net."
[records."*.wild"]
dname = "new"
[pools.new]
addresses = ["192.0.2.1", "192.0.2.2"]
`)
	d := rrset(t, z, "old.z.test.", dns.TypeDNAME)
	if d.TTL != 120 || d.Records()[0].(*dns.DNAME).Target != "new.z.test." {
		t.Errorf("old DNAME %v", d.Records())
	}
	if got := rrset(t, z, "far.z.test.", dns.TypeDNAME).Records()[0].(*dns.DNAME).Target; got != "example.net." {
		t.Errorf("far DNAME target %s", got)
	}
	if n := z.Node("z.test.").Wildcard; n != nil {
		t.Errorf("unexpected wildcard at the apex")
	}
	if z.Node("wild.z.test.").Wildcard.Get(dns.TypeDNAME) == nil {
		t.Error("wildcard DNAME not loaded")
	}

	apex := `$ORIGIN apex.test.
$TTL 300
@ IN SOA ns.other.test. hostmaster 1 3600 900 1209600 60
@ IN NS ns.other.test.
@ IN DNAME other.test.
@ IN MX 10 mail.other.test.
`
	snap := mustLoad(t, writeFile(t, "apex.test.zone", apex))
	az := zoneOf(t, snap, "apex.test.")
	if az.Apex.Get(dns.TypeDNAME) == nil || az.SOA == nil {
		t.Errorf("apex DNAME zone: sets %s", setTypes(az.Apex))
	}
}
