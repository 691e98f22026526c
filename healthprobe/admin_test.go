package healthprobe

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestLocalOnly(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	h := LocalOnly(ok, "127.0.0.1:8053")
	cases := []struct {
		name, method, host, origin string
		want                       int
		fetchSite                  string
	}{
		{"bound address", "GET", "127.0.0.1:8053", "", http.StatusOK, ""},
		{"localhost", "POST", "localhost:8053", "", http.StatusOK, ""},
		{"rebound name", "POST", "evil.example:8053", "", http.StatusForbidden, ""},
		{"other port", "GET", "127.0.0.1:9999", "", http.StatusForbidden, ""},
		{"page posting", "POST", "127.0.0.1:8053", "http://evil.example", http.StatusForbidden, ""},
		{"page deleting", "DELETE", "127.0.0.1:8053", "null", http.StatusForbidden, ""},
		{"page reading", "GET", "127.0.0.1:8053", "http://evil.example", http.StatusOK, ""},
		{"host in capitals", "POST", "LOCALHOST:8053", "", http.StatusOK, ""},
		{"no host (HTTP/1.0)", "POST", "", "", http.StatusOK, ""},
		{"page posting without Origin", "POST", "127.0.0.1:8053", "", http.StatusForbidden, "cross-site"},
		{"same-site page posting", "POST", "127.0.0.1:8053", "", http.StatusForbidden, "same-site"},
		{"the API's own page", "POST", "127.0.0.1:8053", "", http.StatusOK, "same-origin"},
		{"typed in the address bar", "POST", "127.0.0.1:8053", "", http.StatusOK, "none"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(c.method, "http://"+c.host+"/drain", nil)
			r.Host = c.host
			if c.origin != "" {
				r.Header.Set("Origin", c.origin)
			}
			if c.fetchSite != "" {
				r.Header.Set("Sec-Fetch-Site", c.fetchSite)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != c.want {
				t.Errorf("%s %s Host=%s Origin=%q: %d, want %d", c.method, "/drain", c.host, c.origin, w.Code, c.want)
			}
		})
	}
}

func TestRequireToken(t *testing.T) {
	token := "0123456789abcdef0123456789abcdef"
	h := RequireToken(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), []byte(token))
	cases := []struct {
		name, auth string
		want       int
	}{
		{"none", "", http.StatusUnauthorized},
		{"right", "Bearer " + token, http.StatusOK},
		{"scheme in lower case", "bearer " + token, http.StatusOK},
		{"wrong", "Bearer " + token[:31] + "0", http.StatusUnauthorized},
		{"prefix of it", "Bearer " + token[:8], http.StatusUnauthorized},
		{"longer", "Bearer " + token + "0", http.StatusUnauthorized},
		{"basic", "Basic " + token, http.StatusUnauthorized},
		{"scheme only", "Bearer ", http.StatusUnauthorized},
		{"token alone", token, http.StatusUnauthorized},
	}
	for _, c := range cases {
		r := httptest.NewRequest("POST", "/drain?address=192.0.2.1", nil)
		if c.auth != "" {
			r.Header.Set("Authorization", c.auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.want {
			t.Errorf("%s: Authorization %q: %d, want %d", c.name, c.auth, w.Code, c.want)
		}
		if w.Code == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", c.name)
		}
	}
}

// fakeGroups is a GroupLister over groups sorted by name, as the app's.
func fakeGroups(groups []Group) GroupLister {
	return func(q GroupQuery) ([]Group, bool) {
		var out []Group
		for _, g := range groups {
			if g.Name <= q.After || (q.Name != "" && g.Name != q.Name) ||
				(q.Address.IsValid() && !slices.ContainsFunc(g.Members, func(m Member) bool { return m.Addr == q.Address })) {
				continue
			}
			if len(out) == q.Limit {
				return out, true
			}
			out = append(out, g)
		}
		return out, false
	}
}

func testAdmin(t *testing.T, o AdminOptions) (*Prober, func(method, target string) (int, map[string]any)) {
	t.Helper()
	p, err := New(Options{}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	h := AdminHandler(p, o)
	return p, func(method, target string) (int, map[string]any) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(method, target, nil))
		var body map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil && w.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: %d, body not JSON: %v\n%s", method, target, w.Code, err, w.Body)
		}
		return w.Code, body
	}
}

func TestAdminDrainLimits(t *testing.T) {
	member := netip.MustParseAddr("192.0.2.1")
	stranger := netip.MustParseAddr("198.51.100.7")
	p, do := testAdmin(t, AdminOptions{
		Groups:   fakeGroups(nil),
		IsMember: func(a netip.Addr) bool { return a == member },
		MaxDrain: 24 * time.Hour,
	})
	cases := []struct {
		method, target string
		want           int
		msg            string // in the error
	}{
		{"POST", "/drain?address=198.51.100.7", http.StatusNotFound, "in no pool"},
		{"POST", "/drain?address=198.51.100.7&for=1m", http.StatusNotFound, "in no pool"},
		{"POST", "/drain?address=192.0.2.1&for=8760h", http.StatusBadRequest, "drain_max"},
		{"POST", "/drain?address=192.0.2.1&for=24h1s", http.StatusBadRequest, "drain_max"},
		{"POST", "/drain?address=192.0.2.1&for=99999999999h", http.StatusBadRequest, "positive duration"},
		{"POST", "/drain?address=192.0.2.1&for=-1m", http.StatusBadRequest, "positive duration"},
		{"POST", "/drain?address=192.0.2.1&for=24h", http.StatusOK, ""},
		{"POST", "/drain?address=192.0.2.1", http.StatusOK, ""}, // until undrained: explicit
		{"POST", "/drain", http.StatusBadRequest, "address is missing"},
	}
	for _, c := range cases {
		code, body := do(c.method, c.target)
		if code != c.want {
			t.Errorf("%s %s: %d %v, want %d", c.method, c.target, code, body, c.want)
		}
		if msg, _ := body["error"].(string); !strings.Contains(msg, c.msg) {
			t.Errorf("%s %s: error %q, want it to say %q", c.method, c.target, msg, c.msg)
		}
	}
	if _, ok := p.View().Drained(stranger); ok {
		t.Error("a non-member was drained")
	}
	// A drain outlives a reload that removed its address: still removable.
	if err := p.Drain(stranger, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if code, body := do("DELETE", "/drain?address=198.51.100.7"); code != http.StatusOK {
		t.Errorf("DELETE a drained non-member: %d %v, want 200", code, body)
	}
}

func TestAdminStatusPages(t *testing.T) {
	var groups []Group
	for i := range 25 {
		groups = append(groups, Group{Name: fmt.Sprintf("p%02d.example.", i), Members: []Member{
			{Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})}, {Addr: netip.MustParseAddr("198.51.100.1")},
		}})
	}
	_, do := testAdmin(t, AdminOptions{Groups: fakeGroups(groups), MaxGroups: 10})

	// Paging through with the cursor lists every pool once.
	var seen []string
	after := ""
	for page := 0; ; page++ {
		if page > 5 {
			t.Fatal("paging does not end")
		}
		code, body := do("GET", "/status?after="+after)
		if code != http.StatusOK {
			t.Fatalf("GET /status?after=%s: %d %v", after, code, body)
		}
		pools := body["pools"].([]any)
		if len(pools) > 10 {
			t.Errorf("page %d: %d pools, want at most MaxGroups 10", page, len(pools))
		}
		for _, p := range pools {
			seen = append(seen, p.(map[string]any)["name"].(string))
		}
		if body["truncated"] != true {
			if _, ok := body["next"]; ok {
				t.Errorf("last page has next = %v", body["next"])
			}
			break
		}
		after = body["next"].(string)
		if after != seen[len(seen)-1] {
			t.Errorf("next = %q, want the page's last pool %q", after, seen[len(seen)-1])
		}
	}
	if len(seen) != 25 || !slices.IsSorted(seen) || len(slices.Compact(slices.Clone(seen))) != 25 {
		t.Errorf("pages listed %d pools %v, want the 25 once each in order", len(seen), seen)
	}

	cases := []struct {
		target string
		want   int
		pools  int
	}{
		{"/status?limit=3", http.StatusOK, 3},
		{"/status?limit=11", http.StatusBadRequest, 0},
		{"/status?limit=0", http.StatusBadRequest, 0},
		{"/status?limit=x", http.StatusBadRequest, 0},
		{"/status?pool=p07.example.", http.StatusOK, 1},
		{"/status?pool=p99.example.", http.StatusNotFound, 0},
		{"/status?address=192.0.2.4", http.StatusOK, 1},
		{"/status?address=198.51.100.1&limit=10", http.StatusOK, 10},
		{"/status?address=nope", http.StatusBadRequest, 0},
	}
	for _, c := range cases {
		code, body := do("GET", c.target)
		if code != c.want {
			t.Errorf("GET %s: %d %v, want %d", c.target, code, body, c.want)
			continue
		}
		if pools, _ := body["pools"].([]any); code == http.StatusOK && len(pools) != c.pools {
			t.Errorf("GET %s: %d pools, want %d", c.target, len(pools), c.pools)
		}
	}
}

func TestAdminReadOnly(t *testing.T) {
	_, do := testAdmin(t, AdminOptions{Groups: fakeGroups(nil), ReadOnly: true})
	if code, _ := do("GET", "/status"); code != http.StatusOK {
		t.Errorf("GET /status on the read-only API: %d", code)
	}
	for _, m := range []string{"POST", "DELETE"} {
		if code, _ := do(m, "/drain?address=192.0.2.1"); code == http.StatusOK {
			t.Errorf("%s /drain on the read-only API: %d, want it refused", m, code)
		}
	}
}

// TestAdminStatusUnprobed: a member with a check the prober has not decided
// yet (a reload's new target) is unknown, a member without one static.
func TestAdminStatusUnprobed(t *testing.T) {
	check := &Check{Kind: KindTCP, Port: 80}
	groups := []Group{{Name: "www.example.", Members: []Member{
		{Addr: netip.MustParseAddr("192.0.2.1"), Check: check},
		{Addr: netip.MustParseAddr("192.0.2.2")},
	}}}
	_, do := testAdmin(t, AdminOptions{Groups: fakeGroups(groups)})
	code, body := do("GET", "/status")
	if code != http.StatusOK {
		t.Fatalf("GET /status: %d %v", code, body)
	}
	members := body["pools"].([]any)[0].(map[string]any)["members"].([]any)
	for i, want := range []string{"unknown", "static"} {
		if got := members[i].(map[string]any)["state"]; got != want {
			t.Errorf("member %d: state %v, want %s", i, got, want)
		}
	}
}

// TestAdminClusterHooks: /status carries the server and the caller's extra
// objects; drains and undrains made through the API are reported, after
// they took effect, and failed ones are not.
func TestAdminClusterHooks(t *testing.T) {
	p, err := New(Options{}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.MustParseAddr("192.0.2.1")
	check := &Check{Kind: KindTCP, Port: 80}
	var told []string
	h := AdminHandler(p, AdminOptions{
		Groups: func(GroupQuery) ([]Group, bool) {
			return []Group{{Name: "www", Check: "web", Members: []Member{{Addr: addr, Check: check}, {Addr: netip.MustParseAddr("192.0.2.2")}}}}, false
		},
		Server:      "ns1",
		Extra:       func() any { return map[string]string{"name": "ns1"} },
		MemberViews: func(m Member) any { return map[string]string{"agreed": "up", "of": m.Addr.String()} },
		Drained: func(a netip.Addr, until time.Time, drained bool) {
			told = append(told, fmt.Sprintf("%s %v %v", a, drained, until.IsZero()))
		},
	})
	do := func(method, path string) (int, string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(method, "http://127.0.0.1"+path, nil))
		return w.Code, w.Body.String()
	}
	code, body := do("GET", "/status")
	var st struct {
		Server  string            `json:"server"`
		Cluster map[string]string `json:"cluster"`
		Pools   []struct {
			Members []struct {
				Cluster map[string]string `json:"cluster"`
			} `json:"members"`
		} `json:"pools"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil || code != 200 {
		t.Fatalf("/status: %d %v\n%s", code, err, body)
	}
	if st.Server != "ns1" || st.Cluster["name"] != "ns1" || st.Pools[0].Members[0].Cluster["of"] != "192.0.2.1" || st.Pools[0].Members[1].Cluster != nil {
		t.Errorf("/status: %s", body)
	}
	do("POST", "/drain?address=192.0.2.1&for=1h")
	do("DELETE", "/drain?address=192.0.2.1")
	do("DELETE", "/drain?address=192.0.2.1") // not drained: 404, not told
	if want := []string{"192.0.2.1 true false", "192.0.2.1 false true"}; !slices.Equal(told, want) {
		t.Errorf("told %v, want %v", told, want)
	}
}
