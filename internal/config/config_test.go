package config

import "testing"

func TestCheckListenAddr(t *testing.T) {
	cases := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:5353", true},
		{"[::1]:53", true},
		{"127.0.0.1:0", true},
		{"0.0.0.0:53", false}, // replies would come from the routed address
		{"[::]:53", false},
		{"localhost:53", false}, // names are not resolved: say which address
		{"127.0.0.1", false},
		{"127.0.0.1:65536", false},
	}
	for _, c := range cases {
		if err := CheckListenAddr(c.addr); (err == nil) != c.ok {
			t.Errorf("CheckListenAddr(%q) = %v, want ok=%v", c.addr, err, c.ok)
		}
	}
}
