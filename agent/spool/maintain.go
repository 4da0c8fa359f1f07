package spool

import "time"

// runMaintenance is the spool's background goroutine: every RefreshInterval,
// or when kicked by a commit or an ack, it measures the disk, enforces the
// caps (drops for DropOldest lanes), reclaims space when due, removes empty
// backlog streams and re-evaluates the intake gate. Owned by the Spool;
// stops on Close.
func (s *Spool) runMaintenance() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-s.closing:
			return
		case <-t.C:
		case <-s.kick:
		}
		s.maintain()
	}
}

// maintain is one maintenance pass.
func (s *Spool) maintain() {
	s.measure()
	s.enforceAge()
	s.enforceBytes()
	s.mu.Lock()
	due := s.reclaimDueLocked()
	s.mu.Unlock()
	if due && !s.closingNow() {
		s.reclaim()
		s.measure()
	}
	s.tidy()
	s.mu.Lock()
	s.evaluateLocked()
	s.mu.Unlock()
}

// tidy removes backlog streams that became empty after a rotation raced with
// their last Ack.
func (s *Spool) tidy() {
	s.ackMu.Lock()
	defer s.ackMu.Unlock()
	for i := range s.lanes {
		s.mu.Lock()
		var empty []*stream
		live := s.lanes[i].live()
		for _, st := range s.lanes[i].streams {
			if st != live && st.pending() == 0 {
				empty = append(empty, st)
			}
		}
		s.mu.Unlock()
		for _, st := range empty {
			if err := s.advanceHead(st, st.head, false); err != nil {
				s.log.Error("spool: cannot remove empty stream", "stream", st.id, "err", err)
			}
		}
	}
}
