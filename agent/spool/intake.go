package spool

import "context"

// intake is the gate Commit waits at while intake is paused.
type intake struct {
	paused Paused
	// resumed is closed when intake resumes; a new one is made each time it
	// pauses.
	resumed chan struct{}
}

// set changes the state and reports whether it changed. Callers hold
// Spool.mu.
func (g *intake) set(p Paused) bool {
	if p == g.paused {
		return false
	}
	switch {
	case g.paused == PausedNone:
		g.resumed = make(chan struct{})
	case p == PausedNone:
		close(g.resumed)
	}
	g.paused = p
	return true
}

// admit returns once intake is open, or with a *PausedError when ctx ends
// first, or ErrClosed.
func (s *Spool) admit(ctx context.Context) error {
	for {
		s.mu.Lock()
		p, resumed := s.gate.paused, s.gate.resumed
		s.mu.Unlock()
		if p == PausedNone {
			return nil
		}
		select {
		case <-resumed:
		case <-ctx.Done():
			return &PausedError{Reason: p, Err: ctx.Err()}
		case <-s.closing:
			return ErrClosed
		}
	}
}
