package store

import (
	"slices"
	"time"

	"github.com/assent-dev/assent/internal/ids"
)

// The argument checks of each Store method that takes more than one object,
// so that implementations call one function per method. Each returns the
// first ErrInvalid found.

// CheckIDAt checks an opaque id (of kind prefix) and a required time, the
// arguments of ActivateDevice, ExpireRequest and UseDownload.
func CheckIDAt(field, prefix, id string, now time.Time) error {
	return first(CheckID(field, prefix, id), CheckTime("now", now, true))
}

// CheckConfirmDevice checks the arguments of ConfirmDevice.
func CheckConfirmDevice(id, to string, ev *DeviceEvidence, now time.Time) error {
	if to != DeviceActive && to != DeviceRecoveryPending {
		return invalid("a confirmed device becomes %s or %s, not %s", DeviceActive, DeviceRecoveryPending, quote(to))
	}
	return first(CheckIDAt("device id", ids.Device, id, now), CheckDeviceEvidence(ev))
}

// CheckSetDeviceState checks the arguments of SetDeviceState: from -> to
// must be one of DeviceTransitions.
func CheckSetDeviceState(id, from, to string, now time.Time) error {
	if !slices.Contains(DeviceTransitions[from], to) {
		return invalid("no device transition from %s to %s", quote(from), quote(to))
	}
	return CheckIDAt("device id", ids.Device, id, now)
}

// CheckPinUserKey checks the arguments of PinUserKey.
func CheckPinUserKey(userID string, pkD []byte, keyID string) error {
	return first(CheckID("user id", ids.User, userID), CheckLen("pinned device public key", pkD, PublicKeyLen),
		CheckKeyID("pinned device key id", keyID))
}

// CheckUseEnrollment checks the arguments of UseEnrollment.
func CheckUseEnrollment(codeHash []byte, now time.Time) error {
	return first(CheckLen("enrollment code hash", codeHash, HashLen), CheckTime("now", now, true))
}

// CheckGetEnrollment checks the argument of GetEnrollment.
func CheckGetEnrollment(codeHash []byte) error {
	return CheckLen("enrollment code hash", codeHash, HashLen)
}

// MaxKeyIDLen bounds the master key id of PinMasterKeyID.
const MaxKeyIDLen = 64

// CheckPinMasterKeyID checks the argument of PinMasterKeyID.
func CheckPinMasterKeyID(keyID string) error {
	if keyID == "" || len(keyID) > MaxKeyIDLen {
		return invalid("master key id is %d bytes, want 1 to %d", len(keyID), MaxKeyIDLen)
	}
	return CheckText("master key id", keyID, true)
}

// CheckStageRecord checks the arguments of StageRecord.
func CheckStageRecord(id string, s *Staging) error {
	return first(CheckRecordID("record id", id), CheckStaging(s))
}

// CheckSealRecord checks the arguments of SealRecord.
func CheckSealRecord(id string, s *Seal, now time.Time) error {
	return first(CheckRecordID("record id", id), CheckSeal(s), CheckTime("now", now, true))
}

// CheckEndRecord checks the arguments of EndRecord.
func CheckEndRecord(id, to string, now time.Time) error {
	return first(CheckRecordID("record id", id), CheckEndState(to, RecordRejected, RecordExpired), CheckTime("now", now, true))
}

// CheckRecordsToExpire checks the arguments of RecordsToExpire.
func CheckRecordsToExpire(now, uploadDeadline time.Time, limit int) error {
	return first(CheckTime("now", now, true), CheckTime("upload deadline", uploadDeadline, true), CheckLimit(limit))
}

// CheckUserAt checks a user id and a required time (CountPendingRequests).
func CheckUserAt(userID string, now time.Time) error {
	return first(CheckID("user id", ids.User, userID), CheckTime("now", now, true))
}

// CheckPendingRequests checks the arguments of PendingRequests.
func CheckPendingRequests(userID string, now time.Time, limit int) error {
	return first(CheckUserAt(userID, now), CheckLimit(limit))
}

// CheckAnswerRequest checks the arguments of AnswerRequest.
func CheckAnswerRequest(id string, a *Answer, now time.Time) error {
	return first(CheckID("request id", ids.Request, id), CheckAnswer(a), CheckTime("now", now, true))
}

// CheckDue checks the arguments of RequestsToExpire and SessionsToExpire.
func CheckDue(now time.Time, limit int) error {
	return first(CheckTime("now", now, true), CheckLimit(limit))
}

// CheckNodeLimit checks the arguments of AnsweredRequests and
// PendingOwnedBy.
func CheckNodeLimit(node string, limit int) error {
	return first(CheckText("node", node, false), CheckLimit(limit))
}

// CheckOpenSession checks the arguments of OpenSession.
func CheckOpenSession(id string, o *SessionOpening, now time.Time) error {
	return first(CheckID("session id", ids.Session, id), CheckSessionOpening(o), CheckTime("now", now, true))
}

// CheckEndSession checks the arguments of EndSession.
func CheckEndSession(id, to string, now time.Time) error {
	return first(CheckID("session id", ids.Session, id),
		CheckEndState(to, SessionDenied, SessionExpired, SessionConsumed), CheckTime("now", now, true))
}

// CheckAuditEntries checks the arguments of AuditEntries.
func CheckAuditEntries(userID string, afterSeq int64, limit int) error {
	if afterSeq < 0 {
		return invalid("after sequence number %d is negative", afterSeq)
	}
	return first(CheckID("user id", ids.User, userID), CheckLimit(limit))
}

// MergeRecordsToExpire merges the two lists RecordsToExpire reads, each in
// its own deadline order (pending by ExpiresAt, awaiting upload by
// CreatedAt), into at most limit records, earliest deadline first. An
// awaiting record's deadline is CreatedAt + (now - uploadDeadline).
func MergeRecordsToExpire(pending, awaiting []*Record, now, uploadDeadline time.Time, limit int) []*Record {
	window := now.Sub(uploadDeadline)
	out := make([]*Record, 0, min(limit, len(pending)+len(awaiting)))
	for len(out) < limit && (len(pending) > 0 || len(awaiting) > 0) {
		if len(awaiting) == 0 || len(pending) > 0 && !awaiting[0].CreatedAt.Add(window).Before(pending[0].ExpiresAt) {
			out, pending = append(out, pending[0]), pending[1:]
		} else {
			out, awaiting = append(out, awaiting[0]), awaiting[1:]
		}
	}
	return out
}

// CheckCreateRecordAudited checks the arguments of CreateRecordAudited.
func CheckCreateRecordAudited(r *Record, e *AuditEntry) error {
	return first(CheckNewRecord(r), CheckAuditEntry(e))
}

// CheckStageAndAsk checks the arguments of StageAndAsk: those of
// StageRecord, CreateRequest and AppendAudit, and that q asks about
// recordID with the request id staged.
func CheckStageAndAsk(recordID string, s *Staging, q *Request, e *AuditEntry) error {
	if err := first(CheckStageRecord(recordID, s), CheckNewRequest(q), CheckAuditEntry(e)); err != nil {
		return err
	}
	if q.RecordID != recordID || q.ID != s.RequestID {
		return invalid("request %s for record %s is not the one staged (%s for %s)", q.ID, q.RecordID, s.RequestID, recordID)
	}
	return nil
}

// CheckAnswerAndSeal checks the arguments of AnswerAndSeal: those of
// AnswerRequest, SealRecord and AppendAudit, and that the answer approves.
func CheckAnswerAndSeal(a *SealingAnswer, now time.Time) error {
	if a == nil {
		return invalid("no sealing answer")
	}
	if err := first(CheckAnswerRequest(a.RequestID, &a.Answer, now), CheckSealRecord(a.RecordID, &a.Seal, now),
		CheckAuditEntry(a.AnswerAudit), CheckAuditEntry(a.SealAudit)); err != nil {
		return err
	}
	if a.Answer.Decision != DecisionApprove {
		return invalid("a sealing answer must approve, not %q", a.Answer.Decision)
	}
	return nil
}
