package websocket

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/reflowtrace/reflowtrace-go/sink/websocket/internal/spool"
)

// ErrSpoolInUse is wrapped by New's error when another sink, in this
// process or another, holds the spool directory (WithSpoolDir): two sinks
// on one directory would replay, acknowledge and delete each other's
// records.
var ErrSpoolInUse = spool.ErrInUse

// noteSpoolLoss counts the events the spool lost to damage since the last
// call as dropped (DropSpoolCorrupt) and logs the loss and the damaged
// segment files set aside.
func (s *Sink) noteSpoolLoss() {
	l := s.spool.TakeLoss()
	if l.Records > 0 || l.Events > 0 {
		s.mu.Lock()
		if l.Events > 0 {
			s.dropped[DropSpoolCorrupt] += uint64(l.Events)
			s.droppedN.Add(uint64(l.Events))
		}
		s.notifyLocked() // the records on disk changed
		s.mu.Unlock()
	}
	if l.Records > 0 {
		s.log.Warn("damaged spool records skipped",
			zap.String("reason", DropSpoolCorrupt),
			zap.Int64("records", l.Records),
			zap.Int64("events", l.Events))
	}
	for _, p := range l.Quarantined {
		s.log.Warn("damaged spool segment set aside; inspect and remove it", zap.String("path", p))
	}
}

// drainSpool waits until every record on disk was replayed and
// acknowledged (the sender replays the spool before anything else), or
// until ctx ends, which it returns wrapped. It waits for a connection too:
// a sink closed before it connected, or while it reconnects, may still
// reach its server. It returns at once after a permanent failure, and once
// a round of reconnection attempts gives up: what is left then stays on
// disk for the next sink.
func (s *Sink) drainSpool(ctx context.Context) error {
	if s.spool == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rounds := s.gaveUp
	for {
		_, records, _ := s.spool.Pending()
		if records == 0 || s.permErr != nil || s.gaveUp != rounds {
			return nil
		}
		s.waitChangeLocked(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("sink: websocket close: %d spool records not acknowledged: %w", records, err)
		}
	}
}
