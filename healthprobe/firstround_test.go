package healthprobe

import (
	"context"
	"testing"
	"testing/synctest"
)

// TestFirstRoundPending: every target counts as pending until its first
// probe has finished, and none after FirstRound returns.
func TestFirstRoundPending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log, _ := testLogger(t)
		p, err := New(Options{}, log)
		if err != nil {
			t.Fatal(err)
		}
		p.newProbe = newFakeNet().newProbe
		if pending, total := p.FirstRoundPending(); pending != 0 || total != 0 {
			t.Errorf("no targets: %d of %d pending, want 0 of 0", pending, total)
		}
		if err := p.SetTargets([]Target{{addrA, fakeCheck()}, {addrB, fakeCheck()}}); err != nil {
			t.Fatal(err)
		}
		if pending, total := p.FirstRoundPending(); pending != 2 || total != 2 {
			t.Errorf("before Run: %d of %d pending, want 2 of 2", pending, total)
		}
		ctx, stop := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { p.Run(ctx); close(done) }()
		if err := p.FirstRound(t.Context()); err != nil {
			t.Error(err)
		}
		if pending, total := p.FirstRoundPending(); pending != 0 || total != 2 {
			t.Errorf("after FirstRound: %d of %d pending, want 0 of 2", pending, total)
		}
		stop()
		<-done
	})
}
