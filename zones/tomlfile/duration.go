package tomlfile

import "time"

// Duration returns the duration at key, written "90s", "30m" or as a whole
// number of seconds, checked against [lo, hi].
func (t *Table) Duration(key string, lo, hi time.Duration) (time.Duration, bool) {
	v, ok := t.get(key)
	if !ok {
		return 0, false
	}
	var d time.Duration
	switch v := v.(type) {
	case int64:
		if v > int64(hi/time.Second) || v < int64(lo/time.Second) {
			t.Errorf(key, "%d seconds is out of range: %v to %v", v, lo, hi)
			return 0, false
		}
		d = time.Duration(v) * time.Second
	case string:
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			t.Errorf(key, "%q is not a duration such as \"30s\" or \"10m\"", v)
			return 0, false
		}
	default:
		t.Errorf(key, "must be a duration such as \"30s\", not %s", kind(v))
		return 0, false
	}
	if d < lo || d > hi {
		t.Errorf(key, "%v is out of range: %v to %v", d, lo, hi)
		return 0, false
	}
	return d, true
}
