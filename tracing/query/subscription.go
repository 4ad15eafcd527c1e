package query

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// dropWarnEvery bounds how often a subscription logs its drops.
const dropWarnEvery = 10 * time.Second

// Subscription is a stream of the events a server pushes, as
// EventNotifications, until it ends. Its methods are safe for concurrent
// use.
//
// Events is a channel rather than an iter.Seq2: the connection's reader
// must never wait for a consumer, so notifications need a buffer between
// the two anyway, and a channel lets the consumer select on it together
// with its own ctx and timers.
type Subscription struct {
	c       *Client
	filters wire.SubscriptionFilters
	ch      chan wire.EventNotification

	dropped      atomic.Uint64
	delivered    atomic.Uint64
	resubscribed atomic.Uint64

	// Guarded by Client.mu.
	acked    bool // its Subscribe returned it: a later connection renews it
	ended    bool
	err      error
	lastWarn time.Time
	stopCtx  func() bool
	once     sync.Once
}

// Subscribe asks the server to push the events matching f and returns the
// subscription once the server acknowledged it. The reference server
// filters on ActorIDs and EventTypes (nil: any) and ignores FlowIDs and
// StatusFilter; the client applies the same two filters to each
// subscription, so several subscriptions of one Client (which share its
// connection and are sent to the server as one, their union) each get
// what they asked for. A Custom event type in f.EventTypes gets the
// Custom events of its name: they travel as NetworkEvents whose
// "event_subtype" attribute is the name, and arrive so (a NetworkEvent
// type gets them too). The subscription ends when ctx ends, at
// Subscription.Close or Client.Close, or when reconnecting gives up.
func (c *Client) Subscribe(ctx context.Context, f wire.SubscriptionFilters) (*Subscription, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	s := &Subscription{c: c, filters: cloneFilters(f), ch: make(chan wire.EventNotification, c.cfg.subBuffer)}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, fmt.Errorf("query: Subscribe: %w", ErrClosed)
	}
	c.subs[s] = struct{}{}
	c.mu.Unlock()
	if err := c.syncSubscriptions(ctx); err != nil {
		c.mu.Lock()
		c.endSubLocked(s, err)
		c.mu.Unlock()
		return nil, fmt.Errorf("query: Subscribe: %w", err)
	}
	c.mu.Lock()
	if s.ended {
		// Ended while it waited for a connection (the reconnection round
		// it waited for gave up), though a later one took the filters.
		err := s.err
		c.mu.Unlock()
		if err == nil {
			err = ErrClosed
		}
		return nil, fmt.Errorf("query: Subscribe: %w", err)
	}
	s.acked = true
	s.stopCtx = context.AfterFunc(ctx, func() {
		c.mu.Lock()
		c.endSubLocked(s, ctx.Err())
		c.mu.Unlock()
	})
	c.mu.Unlock()
	return s, nil
}

// Events returns the channel of notifications, closed when the
// subscription ends. When the consumer falls behind by more than the
// subscription buffer (WithSubscriptionBuffer), new notifications are
// dropped and counted by Dropped.
func (s *Subscription) Events() <-chan wire.EventNotification { return s.ch }

// Dropped returns how many notifications were dropped because the
// consumer was behind.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Delivered returns how many notifications were put in the channel.
func (s *Subscription) Delivered() uint64 { return s.delivered.Load() }

// Resubscribed returns how many times the subscription was renewed on a
// new connection; what the server pushed while the client was
// disconnected is lost.
func (s *Subscription) Resubscribed() uint64 { return s.resubscribed.Load() }

// Err returns why the subscription ended: nil while it runs and after
// Close, the ctx error, ErrClosed after Client.Close, or the error of the
// reconnection that gave up.
func (s *Subscription) Err() error {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return s.err
}

// Close ends the subscription and tells the server (Unsubscribe, or the
// filters of the client's other subscriptions). Safe to call more than
// once; only the first call talks to the server.
func (s *Subscription) Close(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	c := s.c
	c.mu.Lock()
	first := false
	s.once.Do(func() { first = true })
	c.endSubLocked(s, nil)
	closed := c.closed
	c.mu.Unlock()
	if !first || closed {
		return nil
	}
	if err := c.syncSubscriptions(ctx); err != nil && !errors.Is(err, ErrClosed) {
		return fmt.Errorf("query: Unsubscribe: %w", err)
	}
	return nil
}

// endSubLocked removes s, closes its channel and records err. c.mu must be
// held.
func (c *Client) endSubLocked(s *Subscription, err error) {
	if s.ended {
		return
	}
	s.ended, s.err = true, err
	delete(c.subs, s)
	close(s.ch)
	if s.stopCtx != nil {
		s.stopCtx()
	}
	if n := s.dropped.Load(); n > 0 {
		c.log.Warn("subscription ended; notifications dropped for a slow consumer", zap.Uint64("dropped", n))
	}
}

// syncSubscriptions sends the server the union of the subscriptions'
// filters, or Unsubscribe when there are none.
func (c *Client) syncSubscriptions(ctx context.Context) error {
	resp, err := c.roundTrip(ctx, func(wire.RequestID) wire.TracingRequest {
		if req := c.subscriptionRequest(); req != nil {
			return req
		}
		return wire.Unsubscribe{}
	})
	if err != nil {
		return err
	}
	return checkAck(resp)
}

// checkAck accepts a successful EventRecorded.
func checkAck(resp wire.TracingResponse) error {
	ack, ok := resp.(wire.EventRecorded)
	if !ok {
		return fmt.Errorf("%w %T", ErrUnexpectedReply, resp)
	}
	if !ack.Success {
		return &wire.ServerError{Message: ack.Error}
	}
	return nil
}

// subscriptionRequest is the Subscribe covering every subscription, or
// nil when there is none.
func (c *Client) subscriptionRequest() wire.TracingRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.subs) == 0 {
		return nil
	}
	var u wire.SubscriptionFilters
	first := true
	for s := range c.subs {
		f := &s.filters
		if first {
			u = cloneFilters(*f)
			first = false
			continue
		}
		u.FlowIDs = union(u.FlowIDs, f.FlowIDs)
		u.ActorIDs = union(u.ActorIDs, f.ActorIDs)
		u.EventTypes = union(u.EventTypes, f.EventTypes)
		u.StatusFilter = union(u.StatusFilter, f.StatusFilter)
	}
	return wire.Subscribe{Filters: u}
}

// union is the filter matching what a or b matches: nil (anything) when
// either is nil.
func union[T comparable](a, b []T) []T {
	if a == nil || b == nil {
		return nil
	}
	for _, v := range b {
		if !slices.Contains(a, v) {
			a = append(a, v)
		}
	}
	return a
}

func cloneFilters(f wire.SubscriptionFilters) wire.SubscriptionFilters {
	clone := func(s []string) []string {
		if s == nil {
			return nil
		}
		return append([]string{}, s...)
	}
	out := wire.SubscriptionFilters{ActorIDs: clone(f.ActorIDs)}
	if f.FlowIDs != nil {
		out.FlowIDs = append([]tracing.FlowID{}, f.FlowIDs...)
	}
	if f.EventTypes != nil {
		out.EventTypes = append([]tracing.TraceEventType{}, f.EventTypes...)
	}
	if f.StatusFilter != nil {
		out.StatusFilter = append([]tracing.ExecutionStatus{}, f.StatusFilter...)
	}
	return out
}

// matches applies the filters the reference server applies.
func (s *Subscription) matches(n *wire.EventNotification) bool {
	f := &s.filters
	if f.ActorIDs != nil && !slices.Contains(f.ActorIDs, n.Event.ActorID) {
		return false
	}
	if f.EventTypes != nil && !slices.ContainsFunc(f.EventTypes, func(t tracing.TraceEventType) bool { return typeMatches(t, &n.Event) }) {
		return false
	}
	return true
}

// subtypeKey is the custom attribute that names a Custom event written as
// a NetworkEvent.
const subtypeKey = "event_subtype"

// typeMatches reports whether ev is of event type t. The server receives
// and pushes a Custom event as a NetworkEvent whose event_subtype
// attribute is its name (see wire.Encoder), so a Custom t matches that
// NetworkEvent; every other t matches an equal event type.
func typeMatches(t tracing.TraceEventType, ev *tracing.TraceEvent) bool {
	if t.Kind != tracing.KindCustom || ev.Type.Kind != tracing.KindNetworkEvent {
		return t == ev.Type
	}
	v, ok := ev.Data.CustomAttributes.Get(subtypeKey)
	return ok && v.Kind() == attr.KindString && v.Str() == t.Name
}

// dispatch hands n to every subscription it matches, without waiting: a
// full channel drops it.
func (c *Client) dispatch(n *wire.EventNotification) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for s := range c.subs {
		if !s.matches(n) {
			continue
		}
		select {
		case s.ch <- *n:
			s.delivered.Add(1)
		default:
			d := s.dropped.Add(1)
			if now := time.Now(); now.Sub(s.lastWarn) >= dropWarnEvery {
				s.lastWarn = now
				c.log.Warn("subscriber is behind; dropping notifications", zap.Uint64("dropped", d))
			}
		}
	}
}
