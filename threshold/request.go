package threshold

import "github.com/assent-dev/assent/api"

// ApprovalStatement returns the statement that answers device request req
// with decision (DESIGN.md "Approval statement"), built from the request's
// own fields: requester_id is req.Requester.ID, the digest is the record's
// for a create and empty for any other kind. It is the one builder that the
// device (to sign) and the server (to verify) share, so that both sign and
// check the same bytes by construction. It does not check req: Marshal
// refuses what is malformed.
func ApprovalStatement(req *api.DeviceRequest, decision string) *Statement {
	s := &Statement{
		RequestID:       req.RequestID,
		Kind:            req.Kind,
		UserID:          req.UserID,
		RecordID:        req.RecordID,
		Decision:        decision,
		RequesterID:     req.Requester.ID,
		Purpose:         req.Purpose,
		BlindedElements: req.BlindedElements,
		ExpiresAt:       req.ExpiresAt,
	}
	if req.Kind == KindCreate {
		s.ContentSHA256 = req.Record.ContentSHA256
	}
	return s
}
