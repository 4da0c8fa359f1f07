package filedrop

import (
	"context"
	"sync"

	"github.com/draylink/dray/plugins/filedrop/dropdir"
	"github.com/fsnotify/fsnotify"
)

// watch starts an fsnotify watcher on every inbox and returns a channel
// that receives a hint when something changed. Hints only make a poll come
// sooner; the poll decides what is ready. Without inotify (limits, network
// file systems) it logs and returns nil: polling alone still works. The
// watcher stops, and its goroutine ends, in run.close.
func (r *run) watch(ctx context.Context) <-chan struct{} {
	if !r.cfg.watch {
		return nil
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		r.log.Warn("directory watching unavailable; polling only", "err", err)
		return nil
	}
	for _, ib := range r.cfg.inboxes {
		if err := w.Add(ib.dir.Path(dropdir.InboxDir)); err != nil {
			r.log.Warn("directory watching unavailable; polling only", "inbox", ib.name, "err", err)
			_ = w.Close()
			return nil
		}
	}
	hints := make(chan struct{}, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-w.Events:
				if !ok {
					return
				}
				select {
				case hints <- struct{}{}:
				default:
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				r.log.Debug("directory watcher", "err", err)
			}
		}
	})
	r.stopW = func() {
		_ = w.Close()
		wg.Wait()
	}
	return hints
}
