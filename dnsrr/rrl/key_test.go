package rrl

import "testing"

func TestKey(t *testing.T) {
	if Key("www.Example.ORG.", 1) != Key("www.example.org.", 1) {
		t.Error("case changes the key")
	}
	for _, other := range []struct {
		name  string
		qtype uint16
	}{{"www.example.org.", 28}, {"ww.example.org.", 1}, {"www.example.org", 1}} {
		if Key(other.name, other.qtype) == Key("www.example.org.", 1) {
			t.Errorf("%s/%d has the key of www.example.org./1", other.name, other.qtype)
		}
	}
	long := string(make([]byte, 300)) + "A"
	if Key(long, 1) == Key(long, 2) || Key(long, 1) != Key(long[:300]+"a", 1) {
		t.Error("a long name's key ignores the type, or its case counts")
	}
	if n := testing.AllocsPerRun(100, func() { Key("WWW.example.org.", 1) }); n != 0 {
		t.Errorf("Key allocates %v times", n)
	}
}

func BenchmarkKey(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Key("www.lb.example.test.", 1)
	}
}
