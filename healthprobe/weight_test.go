package healthprobe

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
)

func TestParseWeight(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
		err  string
	}{
		{"0", 0, ""}, {"100", 100, ""}, {"50%", 50, ""}, {" 7 % ", 7, ""}, {"007", 7, ""},
		{"", 0, "not a weight"}, {"%", 0, "not a weight"}, {"101", 0, "above 100%"}, {"999%", 0, "above 100%"},
		{"-1", 0, "not a weight"}, {"+5", 0, "not a weight"}, {"1000", 0, "not a weight"}, {"5.5", 0, "not a weight"},
		{"50%%", 0, "not a weight"}, {"0x10", 0, "not a weight"}, {"drain", 0, "not a weight"},
		{strings.Repeat(" ", 15) + "1", 1, ""}, {strings.Repeat("0", 17), 0, "too long"},
	} {
		got, err := ParseWeight(c.in)
		switch {
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("ParseWeight(%q) = %d, %v; want %d", c.in, got, err, c.want)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("ParseWeight(%q) = %d, %v; want an error with %q", c.in, got, err, c.err)
		}
	}
}

func FuzzParseWeight(f *testing.F) {
	for _, s := range []string{"50", "50%", " 100 ", "101", "", "abc", "0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseWeight(s)
		if err == nil && (n < 0 || n > MaxWeightPercent) {
			t.Fatalf("ParseWeight(%q) = %d, out of range", s, n)
		}
	})
}

// TestHTTPProbeReadsWeight: a passing probe reads the header; a missing,
// doubled or bad one is reported, not a failure; a failing probe reads none.
func TestHTTPProbeReadsWeight(t *testing.T) {
	var mu sync.Mutex
	var header []string
	_, ap := newHTTPBackend(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		for _, v := range header {
			w.Header().Add("X-Weight", v)
		}
		mu.Unlock()
		if r.URL.Path != "/ok" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	for _, c := range []struct {
		path   string
		header []string
		want   weightReport
	}{
		{"/ok", []string{"42%"}, weightReport{percent: 42, ok: true}},
		{"/ok", []string{"0"}, weightReport{percent: 0, ok: true}},
		{"/ok", nil, weightReport{err: "no X-Weight header"}},
		{"/ok", []string{"1", "2"}, weightReport{err: "2 X-Weight headers: send one"}},
		{"/ok", []string{"lots"}, weightReport{err: `X-Weight: "lots" is not a weight`}},
		{"/fail", []string{"50"}, weightReport{}},
	} {
		mu.Lock()
		header = c.header
		mu.Unlock()
		got, err := runProbeWeight(t, ap, Check{Kind: KindHTTP, Path: c.path, WeightHeader: "x-weight"}, "")
		if (err != nil) != (c.path == "/fail") {
			t.Errorf("%s %q: %v", c.path, c.header, err)
		}
		if got.percent != c.want.percent || got.ok != c.want.ok || !strings.HasPrefix(got.err, c.want.err) || (c.want.err == "") != (got.err == "") {
			t.Errorf("%s %q: weight %+v, want %+v", c.path, c.header, got, c.want)
		}
	}
}

// TestReportedWeight: the prober keeps the last valid weight, signals a
// change only when it changes, keeps it through bad values, and reads it
// only from checks that ask.
func TestReportedWeight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet()
		c := fakeCheck()
		c.Kind, c.Port, c.WeightHeader = KindHTTP, 80, "X-Weight"
		tg := Target{addrA, c}
		plain := Target{addrB, fakeCheck()}
		f.set(addrA, true)
		f.set(addrB, true)
		f.setWeight(addrB, weightReport{percent: 10, ok: true}) // not asked for
		f.setWeight(addrA, weightReport{err: "no X-Weight header"})
		p, _ := startFake(t, Options{}, f, tg, plain)
		f.waitCalls(t, addrA, 1)
		f.waitCalls(t, addrB, 1)
		drainChanges(p)
		if st := status(t, p, tg); st.WeightSet || st.WeightPercent() != 100 || st.WeightError != "no X-Weight header" {
			t.Errorf("no header yet: %+v", st)
		}
		if st := status(t, p, plain); st.WeightSet || st.WeightPercent() != 100 || st.WeightError != "" {
			t.Errorf("a check without weight_header: %+v", st)
		}
		steps := []struct {
			w       weightReport
			ok      bool
			want    int
			changed bool
		}{
			{weightReport{percent: 100, ok: true}, true, 100, false}, // as if none was reported
			{weightReport{percent: 100, ok: true}, true, 100, false},
			{weightReport{percent: 10, ok: true}, true, 10, true},
			{weightReport{err: "X-Weight: bad"}, true, 10, false}, // ignored
			{weightReport{}, false, 10, false},                    // a failure reads nothing
			{weightReport{percent: 0, ok: true}, true, 0, true},
		}
		p.TakeChanges()
		wantErr := true
		for i, s := range steps {
			f.setWeight(addrA, s.w)
			f.set(addrA, s.ok)
			f.waitCalls(t, addrA, i+2)
			st := status(t, p, tg)
			if st.WeightPercent() != s.want || !st.WeightSet {
				t.Errorf("step %d: weight %d (set %v), want %d", i, st.WeightPercent(), st.WeightSet, s.want)
			}
			if s.ok {
				wantErr = !s.w.ok // kept through a failure
			}
			if (st.WeightError != "") != wantErr {
				t.Errorf("step %d: weight error %q", i, st.WeightError)
			}
			if got := drainChanges(p); got != s.changed {
				t.Errorf("step %d: Changes signalled %v, want %v", i, got, s.changed)
			}
			if s.changed {
				if c := p.TakeChanges(); len(c.Targets) != 1 || c.Targets[0].Addr != addrA {
					t.Errorf("step %d: changes %+v, want the target", i, c)
				}
			}
		}
		if st := status(t, p, tg); st.State != Up {
			t.Errorf("weight 0 is not down: %s", st.State)
		}
	})
}

// TestWeightHeaderKey: weight_header is part of a target's identity, in
// any case, and valid names only.
func TestWeightHeaderKey(t *testing.T) {
	a := &Check{Kind: KindHTTP, WeightHeader: "x-weight"}
	b := &Check{Kind: KindHTTP, WeightHeader: "X-Weight"}
	none := &Check{Kind: KindHTTP}
	if (Target{addrA, a}).Key() != (Target{addrA, b}).Key() || (Target{addrA, a}).Key() == (Target{addrA, none}).Key() {
		t.Errorf("keys: %q %q %q", Target{addrA, a}.Key(), Target{addrA, b}.Key(), Target{addrA, none}.Key())
	}
	if err := (&Check{Kind: KindHTTP, WeightHeader: "X Weight"}).Validate(); err == nil || !strings.Contains(err.Error(), "not a header name") {
		t.Errorf("bad name: %v", err)
	}
	if err := (&Check{Kind: KindTCP, Port: 1, WeightHeader: "X-Weight"}).Validate(); err == nil || !strings.Contains(err.Error(), "weight_header applies to http and https") {
		t.Errorf("tcp: %v", err)
	}
}
