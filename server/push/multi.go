package push

import (
	"context"
	"errors"
	"sync"
)

// Multi returns a Notifier that notifies through every one of notifiers
// (nil ones are skipped) at the same time, so that a slow webhook does not
// hold back the SSE hub. Notify waits for all of them and returns their
// errors joined with errors.Join, in the order of notifiers, or nil if all
// succeeded; one failing does not stop the others.
func Multi(notifiers ...Notifier) Notifier {
	m := make(multi, 0, len(notifiers))
	for _, n := range notifiers {
		if n != nil {
			m = append(m, n)
		}
	}
	return m
}

type multi []Notifier

func (m multi) Notify(ctx context.Context, userID, requestID string) error {
	errs := make([]error, len(m))
	var wg sync.WaitGroup
	for i, n := range m {
		wg.Go(func() { errs[i] = n.Notify(ctx, userID, requestID) })
	}
	wg.Wait()
	return errors.Join(errs...)
}
