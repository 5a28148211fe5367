package device

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/threshold"
)

// answer builds, records and posts the answer to a checked request.
func (a *Agent) answer(ctx context.Context, req *Request, d Decision, by string, p *Prompt) (*Result, error) {
	msg, err := threshold.ApprovalStatement(req, string(d)).Marshal()
	if err != nil {
		return nil, a.remember(req.RequestID, refuse(req, "its statement cannot be built: %v", err))
	}
	resp := &Response{Decision: string(d), Signature: threshold.Sign(a.id.SigningKey, msg)}
	if by == DecidedByMatch {
		resp.Reason = api.ReasonMatchFailed
	}
	if d == Approve {
		// The info is built here from the ids the prompt showed; the server
		// sends none.
		info, err := threshold.RecordInfo(req.UserID, req.RecordID)
		if err != nil {
			return nil, a.remember(req.RequestID, refuse(req, "%v", err))
		}
		resp.EvaluatedElements, resp.Proof, err = a.evaluate(a.o.Rand, req.BlindedElements, info)
		if err != nil {
			return nil, a.remember(req.RequestID, refuse(req, "evaluation failed: %v", err))
		}
	}
	sum := sha256.Sum256(msg)
	requester := req.Requester
	e := &Entry{
		At: a.o.Now().UTC(), RequestID: req.RequestID, Kind: req.Kind, UserID: req.UserID, RecordID: req.RecordID,
		Requester: &requester, Purpose: req.Purpose, Decision: string(d), DecidedBy: by,
		ExpiresAt: req.ExpiresAt.UTC(), StatementSHA256: sum[:], Response: resp,
	}
	switch {
	case req.Kind == threshold.KindCreate:
		r := req.Record
		e.Record = &r
	case !p.UnknownToLedger:
		r := p.Record
		e.Record = &r
	}
	if err := a.ledger.AppendAnswer(e); err != nil {
		if errors.Is(err, ErrRefused) {
			return nil, a.remember(req.RequestID, err)
		}
		return nil, err
	}
	res, err := a.post(ctx, e)
	if res != nil {
		res.DecidedBy = by
	}
	return res, err
}

// post sends the answer recorded in e, retrying transport failures, 5xx and
// 429 with back-off until the request expires or ctx ends, and records the
// server's verdict in the ledger. The answer itself is never changed.
//
// An attempt under way is not cut short when ctx ends (only the client's
// per-call timeout bounds it): once the answer is in the ledger, learning
// the server's verdict is worth the wait at shutdown, and the verdict would
// otherwise stay unknown until a later run posts the answer again.
func (a *Agent) post(ctx context.Context, e *Entry) (*Result, error) {
	delay := a.o.MinBackoff
	for {
		state, err := a.client.Respond(context.WithoutCancel(ctx), e.RequestID, e.Response)
		if err == nil {
			res := &Result{RequestID: e.RequestID, Decision: Decision(e.Decision), DecidedBy: e.DecidedBy, State: state}
			if err := a.ledger.AppendOutcome(e.RequestID, OutcomeAccepted, state, "", a.o.Now()); err != nil {
				return res, fmt.Errorf("device: the server took the answer, but the ledger did not record it: %w", err)
			}
			return res, nil
		}
		var ae *APIError
		if errors.As(err, &ae) && !transient(err) {
			if lerr := a.ledger.AppendOutcome(e.RequestID, OutcomeRejected, "", ae.Code, a.o.Now()); lerr != nil {
				return nil, errors.Join(err, lerr)
			}
			return nil, err
		}
		if !transient(err) || ctx.Err() != nil || !a.o.Now().Add(delay).Before(e.ExpiresAt) {
			return nil, err
		}
		if serr := sleep(ctx, delay); serr != nil {
			return nil, err
		}
		delay = min(2*delay, a.o.MaxBackoff)
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
