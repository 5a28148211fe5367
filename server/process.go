package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/assent-dev/assent/internal/secret"
	"github.com/assent-dev/assent/oprf"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/threshold"
)

// maxAnswerBatch is how many answered requests the poller takes at a time.
const maxAnswerBatch = 50

// pollAnswers processes the answers to this node's requests that were not
// processed where they arrived: on another node, or here when processing
// failed.
func (s *Server) pollAnswers(ctx context.Context) error {
	reqs, err := s.store.AnsweredRequests(ctx, s.cfg.NodeID, maxAnswerBatch)
	if err != nil {
		return err
	}
	var errs []error
	for _, q := range reqs {
		if err := s.guard("answer poller", func() error { return s.process(ctx, q) }); err != nil {
			errs = append(errs, fmt.Errorf("request %s: %w", q.ID, err))
		}
	}
	return errors.Join(errs...)
}

// process acts on the answer to request q, which this node owns: it seals
// or rejects the record, or opens or denies the session, then marks q
// processed and clears q's secrets. The same function serves the inline
// path and the poller; it is safe under races because the secrets are
// claimed by one caller at a time and every state change is the store's
// conditional update, with side effects (committing or deleting a blob)
// only after the change that allows them.
//
// An error means a retry may succeed (the secrets are kept for it); every
// other outcome, including an answer that can no longer be used or whose
// key material fails to verify or unwrap (final: a retry would fail the
// same way), ends with q processed.
func (s *Server) process(ctx context.Context, q *store.Request) error {
	if q.Answer == nil || q.Processed {
		return nil
	}
	p, res := s.pending.claim(q.ID)
	switch res {
	case busy:
		return nil
	case missing:
		// Either the secrets died with an earlier run, or another caller
		// processed the answer after q was read: it marked q processed
		// before dropping the secrets, so a fresh read tells.
		fresh, err := s.store.GetRequest(ctx, q.ID)
		if err != nil {
			return err
		}
		if fresh.Processed || fresh.Answer == nil {
			return nil
		}
		q = fresh
	}
	return s.processClaimed(ctx, q, p, nil)
}

// processClaimed is process once the caller holds p, q's secrets, claimed
// (nil if this node has none). yD, if not nil, is the device's output for
// q's answer, already verified and finalized with p; otherwise processing
// finalizes the answer, verifying its proof. The caller clears yD.
func (s *Server) processClaimed(ctx context.Context, q *store.Request, p *pendingSecrets, yD []byte) error {
	if p == nil || !p.done {
		err := s.act(ctx, q, p, yD)
		if unusable(err) {
			s.log.Error("approved answer cannot be used: its key material does not verify or unwrap; ending the request", "request_id", q.ID, "error", err)
			s.endRequestFor(ctx, q)
			err = nil
		}
		if err != nil {
			if p != nil {
				s.pending.unclaim(q.ID, p)
			}
			return err
		}
	}
	if err := s.store.MarkProcessed(ctx, q.ID); err != nil && !errors.Is(err, store.ErrConflict) {
		if p != nil {
			// Keep the secrets (and with them the claim on the answer)
			// until q is marked: a retry only marks it.
			p.done = true
			s.pending.unclaim(q.ID, p)
		}
		return err
	}
	if p != nil {
		s.pending.finish(q.ID, p)
	} else {
		s.pending.drop(q.ID)
	}
	return nil
}

// unusable reports whether processing an answer failed for good: the
// server share or the data key does not unwrap (a wrong master key, or a
// damaged database), or the device's evaluation does not verify or
// decode. Store and blob store failures are not: a retry may succeed.
func unusable(err error) bool {
	return errors.Is(err, threshold.ErrUnwrap) || badEvaluation(err)
}

// endRequestFor ends what q was waiting for, as expired: its record (whose
// staged blob goes) or its session.
func (s *Server) endRequestFor(ctx context.Context, q *store.Request) {
	if q.Kind == store.KindAddDevice {
		if err := s.cancelTransfer(ctx, q); err != nil {
			s.log.Warn("cancelling the device of an ended add_device request failed", "request_id", q.ID, "error", err)
		}
		return
	}
	if q.Kind == threshold.KindCreate {
		s.endRecord(ctx, q.RecordID, store.RecordExpired)
		return
	}
	s.endSession(ctx, q.UserID, q.SessionID, store.SessionExpired)
}

// act applies the answer to q with the secrets p (nil if this node has
// none) and yD as processClaimed: seal or reject the record, open or deny
// the session.
func (s *Server) act(ctx context.Context, q *store.Request, p *pendingSecrets, yD []byte) error {
	switch {
	case q.Kind == store.KindAddDevice:
		return s.actAddDevice(ctx, q)
	case q.Answer.Decision == threshold.DecisionDeny && q.Kind == threshold.KindCreate:
		s.endRecord(ctx, q.RecordID, store.RecordRejected)
	case q.Answer.Decision == threshold.DecisionDeny:
		s.endSession(ctx, q.UserID, q.SessionID, store.SessionDenied)
	case p == nil:
		// Approved, but the secrets died with an earlier run of this node:
		// the approval cannot be used, and the record or session (still
		// waiting for it) expires.
		s.log.Warn("approved request has no secrets on this node; ending it", "request_id", q.ID)
		if q.Kind == threshold.KindCreate {
			s.endRecord(ctx, q.RecordID, store.RecordExpired)
			return nil
		}
		sess, err := s.store.GetSession(ctx, q.SessionID)
		if err != nil {
			return err
		}
		if sess.State == store.SessionPendingApproval {
			s.endSession(ctx, q.UserID, q.SessionID, store.SessionExpired)
		}
	case q.Kind == threshold.KindCreate:
		return s.seal(ctx, q, p, yD)
	default:
		return s.open(ctx, q, p, yD)
	}
	return nil
}

// userShare unwraps the server share of userID.
func (s *Server) userShare(ctx context.Context, userID string) (*oprf.PrivateKey, error) {
	u, err := s.store.GetUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	return s.master.UnwrapShare(u.ID, u.ShareVersion, u.ShareWrapped)
}

// recordKEK derives the KEK of the request's record from yD, the device's
// output, and the user's server share evaluated at input. A nil yD is
// finalized here from the stored answer, verifying its proof, as
// threshold.RecordKEK does; the share is evaluated only after that.
func (s *Server) recordKEK(ctx context.Context, q *store.Request, p *pendingSecrets, input, yD []byte) ([]byte, error) {
	if yD == nil {
		dev, err := s.store.GetDevice(ctx, q.Answer.Approval.DeviceID)
		if err != nil {
			return nil, err
		}
		pkD, err := oprf.ParsePublicKey(dev.OPRFPublicKey)
		if err != nil {
			return nil, err
		}
		if yD, err = threshold.DeviceOutput(p.blinding, pkD, q.UserID, q.RecordID, q.Answer.EvaluatedElements, q.Answer.Proof); err != nil {
			return nil, err
		}
		defer secret.Clear(yD)
	}
	share, err := s.userShare(ctx, q.UserID)
	if err != nil {
		return nil, err
	}
	defer share.Destroy()
	yS, err := share.EvaluateOPRF(input)
	if err != nil {
		return nil, fmt.Errorf("server share: %w", err)
	}
	defer secret.Clear(yS)
	return threshold.DeriveKEK(yS, yD, q.UserID, q.RecordID)
}

// seal finishes an approved create: wrap the data key under the record's
// KEK, commit the blob, then seal the record (conditional). If the record
// can no longer be sealed (expired meanwhile), the committed blob goes.
func (s *Server) seal(ctx context.Context, q *store.Request, p *pendingSecrets, yD []byte) error {
	wrapped, err := s.wrapRecordKey(ctx, q, p, yD)
	if err != nil {
		return err
	}
	if err := s.commitContent(ctx, q, p); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			// The sweeper ended the record and deleted its blob.
			s.endRecord(ctx, q.RecordID, store.RecordExpired)
			return nil
		}
		return err
	}
	now := s.now()
	err = s.store.SealRecord(ctx, q.RecordID, store.Seal{WrappedDEK: wrapped, Approval: keptApproval(q.Answer), SealedAt: now}, now)
	switch {
	case err == nil:
		s.audit(ctx, q.UserID, store.EventRecordSealed, actorServer, q.RecordID, requestDetails{RecordID: q.RecordID, RequestID: q.ID})
		s.changes.changed(q.RecordID)
		return nil
	case errors.Is(err, store.ErrExpired), errors.Is(err, store.ErrConflict):
		// Too late, or ended by someone else: the record is not sealed, so
		// its content must not stay.
		if !s.endRecord(ctx, q.RecordID, store.RecordExpired) && !p.inline {
			if rec, gerr := s.store.GetRecord(ctx, q.RecordID); gerr == nil && rec.State != store.RecordSealed {
				s.deleteBlob(ctx, q.RecordID)
			}
		}
		return nil
	}
	return err
}

// wrapRecordKey wraps the data key of q's record, with the secrets p and
// yD as processClaimed, under the record's KEK.
func (s *Server) wrapRecordKey(ctx context.Context, q *store.Request, p *pendingSecrets, yD []byte) ([]byte, error) {
	kek, err := s.recordKEK(ctx, q, p, p.input, yD)
	if err != nil {
		return nil, err
	}
	defer secret.Clear(kek)
	ad, err := threshold.WrapAD(q.UserID, q.RecordID, q.Record.ContentSHA256, uint64(q.Record.Size))
	if err != nil {
		return nil, err
	}
	return threshold.WrapDEK(s.rand, kek, p.dek, ad)
}

// commitContent makes the ciphertext of q's record, uploaded with the
// secrets p, durable under its final name: its blob is committed, unless
// the store keeps it (written with the staging, nothing left to do).
func (s *Server) commitContent(ctx context.Context, q *store.Request, p *pendingSecrets) error {
	if p.inline {
		return nil
	}
	return s.commit(ctx, q.RecordID)
}

// commit commits the staged blob name; a blob committed by an earlier try
// of the same processing counts as done.
func (s *Server) commit(ctx context.Context, name string) error {
	err := s.blobs.Commit(ctx, name)
	if !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrConflict) {
		return err
	}
	b, oerr := s.blobs.Open(ctx, name)
	if oerr != nil {
		return store.ErrNotFound
	}
	b.Close()
	return nil
}

// unwrapRecordKey unwraps the data key of record rec, which q asks to
// open, with the secrets p and yD as processClaimed, under the record's
// KEK.
func (s *Server) unwrapRecordKey(ctx context.Context, q *store.Request, p *pendingSecrets, rec *store.Record, yD []byte) ([]byte, error) {
	kek, err := s.recordKEK(ctx, q, p, rec.Input, yD)
	if err != nil {
		return nil, err
	}
	defer secret.Clear(kek)
	ad, err := threshold.WrapAD(rec.UserID, rec.ID, rec.ContentSHA256, uint64(rec.Size))
	if err != nil {
		return nil, err
	}
	return threshold.UnwrapDEK(kek, rec.WrappedDEK, ad)
}

// open finishes an approved access: unwrap the record's data key, hold it
// for the session, and open the session (conditional).
func (s *Server) open(ctx context.Context, q *store.Request, p *pendingSecrets, yD []byte) error {
	rec, err := s.store.GetRecord(ctx, q.RecordID)
	if err != nil {
		return err
	}
	dek, err := s.unwrapRecordKey(ctx, q, p, rec, yD)
	if err != nil {
		return err
	}
	now := s.now()
	expires := now.Add(s.cfg.SessionTTL)
	// The key is in place before the session opens, so that a download
	// finds it.
	s.keys.put(q.SessionID, dek, expires)
	err = s.store.OpenSession(ctx, q.SessionID, store.SessionOpening{
		ExpiresAt: expires,
		Downloads: s.cfg.DownloadsPerSession,
		Approval:  keptApproval(q.Answer),
		OpenedAt:  now,
	}, now)
	switch {
	case err == nil:
		s.audit(ctx, q.UserID, store.EventSessionOpened, actorServer, q.SessionID, requestDetails{RecordID: q.RecordID, RequestID: q.ID, SessionID: q.SessionID})
		s.changes.changed(q.SessionID)
		return nil
	case errors.Is(err, store.ErrExpired), errors.Is(err, store.ErrConflict):
		s.keys.retire(q.SessionID)
		s.endSession(ctx, q.UserID, q.SessionID, store.SessionExpired)
		return nil
	}
	s.keys.retire(q.SessionID)
	return err
}

// endRecord moves a record awaiting upload or pending approval to to
// (rejected or expired); if this call made the change, it deletes the
// record's blob, audits and wakes long polls. It reports whether it made
// the change; a failure is logged (the sweeper retries expiry).
func (s *Server) endRecord(ctx context.Context, recordID, to string) bool {
	ctx = context.WithoutCancel(ctx)
	rec, err := s.store.GetRecord(ctx, recordID)
	if err != nil {
		s.log.Warn("ending a record failed", "record_id", recordID, "error", err)
		return false
	}
	if err := s.store.EndRecord(ctx, recordID, to, s.now()); err != nil {
		if !errors.Is(err, store.ErrConflict) {
			s.log.Warn("ending a record failed", "record_id", recordID, "error", err)
		}
		return false
	}
	if rec.BlobName != "" {
		s.deleteBlob(ctx, rec.BlobName)
	}
	event := store.EventRecordExpired
	if to == store.RecordRejected {
		event = store.EventRecordRejected
	}
	s.audit(ctx, rec.UserID, event, actorServer, recordID, nil)
	s.changes.changed(recordID)
	return true
}

// endSession moves a pending or open session to to (denied, expired or
// consumed), retires its key, audits and wakes long polls if this call made
// the change. A failure is logged (the sweeper retries expiry).
func (s *Server) endSession(ctx context.Context, userID, sessionID, to string) {
	ctx = context.WithoutCancel(ctx)
	if err := s.store.EndSession(ctx, sessionID, to, s.now()); err != nil {
		if !errors.Is(err, store.ErrConflict) {
			s.log.Warn("ending a session failed", "session_id", sessionID, "error", err)
		}
		return
	}
	s.keys.retire(sessionID)
	event := store.EventSessionExpired
	if to == store.SessionDenied {
		event = store.EventSessionDenied
	}
	s.audit(ctx, userID, event, actorServer, sessionID, nil)
	s.changes.changed(sessionID)
}

// keptApproval is the approval a sealed record or an open session keeps:
// what the device signed, with the evaluation and proof it answered with,
// so that anyone can check the proof against the user's pkD.
func keptApproval(a *store.Answer) store.Approval {
	k := a.Approval
	k.EvaluatedElements, k.Proof = a.EvaluatedElements, a.Proof
	return k
}
