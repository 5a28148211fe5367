package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/threshold"
)

// sweepBatch is how many objects of each kind one sweep ends at most; the
// next sweep takes the rest.
const sweepBatch = 100

// sweep ends what has expired: pending requests (with their record or
// session), records past their approval deadline or never uploaded,
// sessions past their end; clears the secrets of this node that outlived
// their request; and deletes stale staged blobs of records that are over.
func (s *Server) sweep(ctx context.Context) error {
	now := s.now()
	var errs []error
	reqs, err := s.store.RequestsToExpire(ctx, now, sweepBatch)
	errs = append(errs, err)
	for _, q := range reqs {
		// Each object under its own guard: one that panics must not keep
		// the others from expiring, tick after tick.
		errs = append(errs, s.guard("sweeper", func() error { return s.expireRequest(ctx, q) }))
	}

	recs, err := s.store.RecordsToExpire(ctx, now, now.Add(-s.cfg.UploadDeadline), sweepBatch)
	errs = append(errs, err)
	for _, rec := range recs {
		errs = append(errs, s.guard("sweeper", func() error {
			if s.endRecord(ctx, rec.ID, store.RecordExpired) && rec.RequestID != "" {
				s.pending.drop(rec.RequestID)
			}
			return nil
		}))
	}

	sessions, err := s.store.SessionsToExpire(ctx, now, sweepBatch)
	errs = append(errs, err)
	for _, sess := range sessions {
		errs = append(errs, s.guard("sweeper", func() error {
			s.endSession(ctx, sess.UserID, sess.ID, store.SessionExpired)
			s.pending.drop(sess.RequestID)
			return nil
		}))
	}

	// A transfer bundle nobody fetched in time goes (ciphertext only, but
	// the server keeps none of it longer than needed).
	_, err = s.store.DeleteExpiredTransfers(ctx, now, sweepBatch)
	errs = append(errs, err)

	s.pending.expire(now)
	s.keys.expire(now)
	s.limits.prune(s.clock())
	s.enrolls.prune(s.clock())
	s.creates.prune(s.clock())
	errs = append(errs, s.sweepStaged(ctx))
	return errors.Join(errs...)
}

// expireRequest expires a pending request and ends its record or session.
// If the request was answered meanwhile, the answer stands. It fails only
// if the store does.
func (s *Server) expireRequest(ctx context.Context, q *store.Request) error {
	if err := s.store.ExpireRequest(ctx, q.ID, s.now()); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil
		}
		return fmt.Errorf("expiring request %s: %w", q.ID, err)
	}
	s.pending.drop(q.ID)
	switch q.Kind {
	case store.KindAddDevice:
		return s.cancelTransfer(ctx, q)
	case threshold.KindCreate:
		s.endRecord(ctx, q.RecordID, store.RecordExpired)
	default:
		s.endSession(ctx, q.UserID, q.SessionID, store.SessionExpired)
	}
	return nil
}

// stagedMargin is added to the longest a staged blob can legitimately wait
// (ApprovalTTL + processingGrace) before the sweeper looks at it.
const stagedMargin = 5 * time.Minute

// sweepStaged deletes staged blobs left by a crash or a failed clean-up:
// untouched for longer than a request can wait for its answer and have it
// processed (ApprovalTTL + processingGrace + stagedMargin), not being
// written by an upload on this node, and whose record is unknown, rejected
// or expired, or staged with its ciphertext kept by the store. Those states are final, so the blob can never be needed;
// any other state keeps it whatever the blob's age, since the record may
// be sealed (its blob committed) between the listing and the look at the
// record, and the blob store's Delete removes committed blobs too. A
// crashed upload's blob of a record still awaiting upload stays until a new
// upload replaces it or the record expires.
func (s *Server) sweepStaged(ctx context.Context) error {
	names, err := s.blobs.StagedBefore(ctx, s.clock().Add(-(s.cfg.ApprovalTTL + processingGrace + stagedMargin)))
	if err != nil {
		return err
	}
	for _, name := range names {
		if s.uploads.holds(name) {
			continue
		}
		rec, err := s.store.GetRecord(ctx, name)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		case rec.State == store.RecordRejected, rec.State == store.RecordExpired:
		case rec.State != store.RecordAwaitingUpload && rec.BlobName == "":
			// Staged with its ciphertext in the store (a retry, after
			// an upload that crashed, that was small): this blob is
			// no one's.
		default:
			continue
		}
		s.deleteBlob(ctx, name)
	}
	return nil
}

// reclaim expires the requests an earlier run of this node left pending:
// their secrets died with that run, so they can never be acted on. Their
// records expire and staged blobs go; their sessions expire.
func (s *Server) reclaim(ctx context.Context) error {
	ended := 0
	defer func() {
		if ended > 0 {
			s.log.Warn("start ended the pending requests an earlier run of this node left: their secrets died with it", "ended", ended)
		} else {
			s.log.Info("start: no pending request of an earlier run to end")
		}
	}()
	for {
		reqs, err := s.store.PendingOwnedBy(ctx, s.cfg.NodeID, sweepBatch)
		if err != nil {
			return fmt.Errorf("server: reclaiming requests of an earlier run: %w", err)
		}
		progress := false
		for _, q := range reqs {
			if s.pending.has(q.ID) {
				continue // made by this run (Start after serving began)
			}
			if err := s.expireRequest(ctx, q); err != nil {
				return fmt.Errorf("server: reclaiming requests of an earlier run: %w", err)
			}
			ended++
			progress = true
		}
		if len(reqs) < sweepBatch || !progress {
			return nil
		}
	}
}
