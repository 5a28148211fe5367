package mongo

import (
	"time"

	"github.com/assent-dev/assent/store"
)

// The documents of each collection. Field names are snake_case as in the
// SQLite schema. Times are BSON dates (milliseconds, UTC; the server makes
// whole seconds); a zero time, an empty byte string and an empty list are
// left out and come back as the zero value. Fields that queries select on
// (state, owner_node, processed, user_id) are always present.

type userDoc struct {
	ID           string    `bson:"_id"`
	ClientID     string    `bson:"client_id"`
	ExternalID   string    `bson:"external_id"`
	DisplayName  string    `bson:"display_name,omitempty"`
	ShareWrapped []byte    `bson:"share_wrapped"`
	ShareVersion int64     `bson:"share_version"`
	CreatedAt    time.Time `bson:"created_at,omitempty"`
	// Pinned by PinUserKey; absent until then.
	DevicePublicKey []byte `bson:"device_public_key,omitempty"`
	DeviceKeyID     string `bson:"device_key_id,omitempty"`
}

func toUserDoc(u *store.User) *userDoc {
	return &userDoc{
		ID: u.ID, ClientID: u.ClientID, ExternalID: u.ExternalID, DisplayName: u.DisplayName,
		ShareWrapped: u.ShareWrapped, ShareVersion: int64(u.ShareVersion), CreatedAt: u.CreatedAt,
	}
}

func (d *userDoc) user() *store.User {
	return &store.User{
		ID: d.ID, ClientID: d.ClientID, ExternalID: d.ExternalID, DisplayName: d.DisplayName,
		ShareWrapped: nonEmpty(d.ShareWrapped), ShareVersion: uint32(d.ShareVersion), CreatedAt: utc(d.CreatedAt),
		DevicePublicKey: nonEmpty(d.DevicePublicKey), DeviceKeyID: d.DeviceKeyID,
	}
}

// Enrollment codes use a state like every other object, so that whyNot
// explains a failed use: unused -> used.
const (
	enrollmentUnused = "unused"
	enrollmentUsed   = "used"
)

type enrollmentDoc struct {
	ID        string    `bson:"_id"` // hex of the code hash
	UserID    string    `bson:"user_id"`
	State     string    `bson:"state"`
	ExpiresAt time.Time `bson:"expires_at"`
	UsedAt    time.Time `bson:"used_at,omitempty"`
}

type deviceDoc struct {
	ID               string       `bson:"_id"`
	UserID           string       `bson:"user_id"`
	Name             string       `bson:"name,omitempty"`
	OPRFPublicKey    []byte       `bson:"oprf_public_key"`
	SigningPublicKey []byte       `bson:"signing_public_key"`
	KeyID            string       `bson:"device_key_id"`
	State            string       `bson:"state"`
	Platform         string       `bson:"platform,omitempty"` // absent for the devices enrolled before platforms
	CheckBlinded     [][]byte     `bson:"check_blinded,omitempty"`
	CreatedAt        time.Time    `bson:"created_at,omitempty"`
	ActivatedAt      time.Time    `bson:"activated_at,omitempty"`
	StateAt          time.Time    `bson:"state_at,omitempty"`
	Evidence         *evidenceDoc `bson:"evidence,omitempty"`
}

type evidenceDoc struct {
	EnrollSignature   []byte   `bson:"enroll_signature"`
	EvaluatedElements [][]byte `bson:"evaluated_elements"`
	Proof             []byte   `bson:"proof"`
	AddStatement      []byte   `bson:"add_statement,omitempty"`
	AddSignature      []byte   `bson:"add_signature,omitempty"`
}

func toEvidenceDoc(e *store.DeviceEvidence) *evidenceDoc {
	return &evidenceDoc{
		EnrollSignature: e.EnrollSignature, EvaluatedElements: e.EvaluatedElements, Proof: e.Proof,
		AddStatement: e.AddStatement, AddSignature: e.AddSignature,
	}
}

func (d *evidenceDoc) evidence() store.DeviceEvidence {
	if d == nil {
		return store.DeviceEvidence{}
	}
	return store.DeviceEvidence{
		EnrollSignature: nonEmpty(d.EnrollSignature), EvaluatedElements: nonEmptyList(d.EvaluatedElements),
		Proof: nonEmpty(d.Proof), AddStatement: nonEmpty(d.AddStatement), AddSignature: nonEmpty(d.AddSignature),
	}
}

func toDeviceDoc(d *store.Device) *deviceDoc {
	return &deviceDoc{
		ID: d.ID, UserID: d.UserID, Name: d.Name, OPRFPublicKey: d.OPRFPublicKey, SigningPublicKey: d.SigningPublicKey,
		KeyID: d.KeyID, State: d.State, Platform: d.Platform, CheckBlinded: d.CheckBlinded, CreatedAt: d.CreatedAt,
		ActivatedAt: d.ActivatedAt, StateAt: d.StateAt,
	}
}

func (d *deviceDoc) device() *store.Device {
	return &store.Device{
		ID: d.ID, UserID: d.UserID, Name: d.Name, OPRFPublicKey: nonEmpty(d.OPRFPublicKey),
		SigningPublicKey: nonEmpty(d.SigningPublicKey), KeyID: d.KeyID, State: d.State, Platform: d.Platform,
		CheckBlinded: nonEmptyList(d.CheckBlinded), CreatedAt: utc(d.CreatedAt), ActivatedAt: utc(d.ActivatedAt),
		StateAt: utc(d.StateAt), Evidence: d.Evidence.evidence(),
	}
}

type clientDoc struct {
	ID        string    `bson:"_id"`
	Name      string    `bson:"name,omitempty"`
	KeyPrefix string    `bson:"key_prefix"`
	KeyHash   []byte    `bson:"key_hash"`
	Scopes    []string  `bson:"scopes,omitempty"`
	CreatedAt time.Time `bson:"created_at,omitempty"`
}

func toClientDoc(c *store.Client) *clientDoc {
	return &clientDoc{ID: c.ID, Name: c.Name, KeyPrefix: c.KeyPrefix, KeyHash: c.KeyHash, Scopes: c.Scopes, CreatedAt: c.CreatedAt}
}

func (d *clientDoc) client() *store.Client {
	c := &store.Client{ID: d.ID, Name: d.Name, KeyPrefix: d.KeyPrefix, KeyHash: nonEmpty(d.KeyHash), CreatedAt: utc(d.CreatedAt)}
	if len(d.Scopes) > 0 {
		c.Scopes = d.Scopes
	}
	return c
}

type approvalDoc struct {
	DeviceID          string   `bson:"device_id"`
	Statement         []byte   `bson:"statement"`
	Signature         []byte   `bson:"signature"`
	EvaluatedElements [][]byte `bson:"evaluated_elements,omitempty"`
	Proof             []byte   `bson:"proof,omitempty"`
}

func toApprovalDoc(a *store.Approval) *approvalDoc {
	return &approvalDoc{
		DeviceID: a.DeviceID, Statement: a.Statement, Signature: a.Signature,
		EvaluatedElements: a.EvaluatedElements, Proof: a.Proof,
	}
}

func (d *approvalDoc) approval() store.Approval {
	if d == nil {
		return store.Approval{}
	}
	return store.Approval{
		DeviceID: d.DeviceID, Statement: nonEmpty(d.Statement), Signature: nonEmpty(d.Signature),
		EvaluatedElements: nonEmptyList(d.EvaluatedElements), Proof: nonEmpty(d.Proof),
	}
}

type recordDoc struct {
	ID          string    `bson:"_id"`
	UserID      string    `bson:"user_id"`
	ClientID    string    `bson:"client_id"`
	Title       string    `bson:"title,omitempty"`
	ContentType string    `bson:"content_type,omitempty"`
	Purpose     string    `bson:"purpose,omitempty"`
	State       string    `bson:"state"`
	CreatedAt   time.Time `bson:"created_at"`

	Size          int64     `bson:"size,omitempty"`
	ContentSHA256 []byte    `bson:"content_sha256,omitempty"`
	BlobName      string    `bson:"blob_name,omitempty"`
	Input         []byte    `bson:"input,omitempty"`
	DeviceKeyID   string    `bson:"device_key_id,omitempty"`
	RequestID     string    `bson:"request_id,omitempty"`
	ExpiresAt     time.Time `bson:"expires_at,omitempty"`

	WrappedDEK []byte       `bson:"wrapped_dek,omitempty"`
	Approval   *approvalDoc `bson:"approval,omitempty"`
	SealedAt   time.Time    `bson:"sealed_at,omitempty"`
}

func toRecordDoc(r *store.Record) *recordDoc {
	return &recordDoc{
		ID: r.ID, UserID: r.UserID, ClientID: r.ClientID, Title: r.Title, ContentType: r.ContentType, Purpose: r.Purpose,
		State: store.RecordAwaitingUpload, CreatedAt: r.CreatedAt,
	}
}

func (d *recordDoc) record() *store.Record {
	return &store.Record{
		ID: d.ID, UserID: d.UserID, ClientID: d.ClientID, Title: d.Title, ContentType: d.ContentType, Purpose: d.Purpose,
		State: d.State, CreatedAt: utc(d.CreatedAt),
		Size: d.Size, ContentSHA256: nonEmpty(d.ContentSHA256), BlobName: d.BlobName, Input: nonEmpty(d.Input),
		DeviceKeyID: d.DeviceKeyID, RequestID: d.RequestID, ExpiresAt: utc(d.ExpiresAt),
		WrappedDEK: nonEmpty(d.WrappedDEK), Approval: d.Approval.approval(), SealedAt: utc(d.SealedAt),
	}
}

type requesterDoc struct {
	ID   string `bson:"id"`
	Name string `bson:"name,omitempty"`
}

type requestRecordDoc struct {
	Title         string `bson:"title,omitempty"`
	ContentType   string `bson:"content_type,omitempty"`
	Size          int64  `bson:"size,omitempty"`
	ContentSHA256 []byte `bson:"content_sha256,omitempty"`
}

type answerDoc struct {
	Decision          string      `bson:"decision"`
	EvaluatedElements [][]byte    `bson:"evaluated_elements,omitempty"`
	Proof             []byte      `bson:"proof,omitempty"`
	Approval          approvalDoc `bson:"approval"`
	AnsweredAt        time.Time   `bson:"answered_at"`
}

type requestDoc struct {
	ID              string           `bson:"_id"`
	Kind            string           `bson:"kind"`
	UserID          string           `bson:"user_id"`
	RecordID        string           `bson:"record_id"`
	SessionID       string           `bson:"session_id,omitempty"`
	DeviceID        string           `bson:"device_id,omitempty"`
	DeviceKeyID     string           `bson:"device_key_id"`
	Requester       requesterDoc     `bson:"requester"`
	Purpose         string           `bson:"purpose,omitempty"`
	Record          requestRecordDoc `bson:"record"`
	BlindedElements [][]byte         `bson:"blinded_elements"`
	State           string           `bson:"state"`
	CreatedAt       time.Time        `bson:"created_at"`
	ExpiresAt       time.Time        `bson:"expires_at"`
	OwnerNode       string           `bson:"owner_node"`
	Answer          *answerDoc       `bson:"answer,omitempty"`
	Processed       bool             `bson:"processed"`
}

func toRequestDoc(q *store.Request) *requestDoc {
	return &requestDoc{
		ID: q.ID, Kind: q.Kind, UserID: q.UserID, RecordID: q.RecordID, SessionID: q.SessionID, DeviceID: q.DeviceID, DeviceKeyID: q.DeviceKeyID,
		Requester: requesterDoc{ID: q.Requester.ID, Name: q.Requester.Name}, Purpose: q.Purpose,
		Record: requestRecordDoc{
			Title: q.Record.Title, ContentType: q.Record.ContentType, Size: q.Record.Size, ContentSHA256: q.Record.ContentSHA256,
		},
		BlindedElements: q.BlindedElements, State: store.RequestPending, CreatedAt: q.CreatedAt, ExpiresAt: q.ExpiresAt,
		OwnerNode: q.OwnerNode,
	}
}

func toAnswerDoc(a *store.Answer) *answerDoc {
	return &answerDoc{
		Decision: a.Decision, EvaluatedElements: a.EvaluatedElements, Proof: a.Proof,
		Approval: *toApprovalDoc(&a.Approval), AnsweredAt: a.AnsweredAt,
	}
}

func (d *requestDoc) request() *store.Request {
	q := &store.Request{
		ID: d.ID, Kind: d.Kind, UserID: d.UserID, RecordID: d.RecordID, SessionID: d.SessionID, DeviceID: d.DeviceID, DeviceKeyID: d.DeviceKeyID,
		Requester: store.Requester{ID: d.Requester.ID, Name: d.Requester.Name}, Purpose: d.Purpose,
		Record: store.RequestRecord{
			Title: d.Record.Title, ContentType: d.Record.ContentType, Size: d.Record.Size,
			ContentSHA256: nonEmpty(d.Record.ContentSHA256),
		},
		BlindedElements: nonEmptyList(d.BlindedElements), State: d.State, CreatedAt: utc(d.CreatedAt),
		ExpiresAt: utc(d.ExpiresAt), OwnerNode: d.OwnerNode, Processed: d.Processed,
	}
	if a := d.Answer; a != nil {
		q.Answer = &store.Answer{
			Decision: a.Decision, EvaluatedElements: nonEmptyList(a.EvaluatedElements), Proof: nonEmpty(a.Proof),
			Approval: a.Approval.approval(), AnsweredAt: utc(a.AnsweredAt),
		}
	}
	return q
}

type sessionDoc struct {
	ID            string       `bson:"_id"`
	RecordID      string       `bson:"record_id"`
	UserID        string       `bson:"user_id"`
	RequesterID   string       `bson:"requester_id"`
	Purpose       string       `bson:"purpose,omitempty"`
	RequestID     string       `bson:"request_id"`
	State         string       `bson:"state"`
	CreatedAt     time.Time    `bson:"created_at"`
	ExpiresAt     time.Time    `bson:"expires_at"`
	DownloadsLeft int64        `bson:"downloads_left"`
	Approval      *approvalDoc `bson:"approval,omitempty"`
	OpenedAt      time.Time    `bson:"opened_at,omitempty"`
}

func toSessionDoc(s *store.Session) *sessionDoc {
	return &sessionDoc{
		ID: s.ID, RecordID: s.RecordID, UserID: s.UserID, RequesterID: s.RequesterID, Purpose: s.Purpose,
		RequestID: s.RequestID, State: store.SessionPendingApproval, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt,
	}
}

func (d *sessionDoc) session() *store.Session {
	return &store.Session{
		ID: d.ID, RecordID: d.RecordID, UserID: d.UserID, RequesterID: d.RequesterID, Purpose: d.Purpose,
		RequestID: d.RequestID, State: d.State, CreatedAt: utc(d.CreatedAt), ExpiresAt: utc(d.ExpiresAt),
		DownloadsLeft: int(d.DownloadsLeft), Approval: d.Approval.approval(), OpenedAt: utc(d.OpenedAt),
	}
}

type auditDoc struct {
	UserID   string    `bson:"user_id"`
	Seq      int64     `bson:"seq"`
	Event    string    `bson:"event"`
	Actor    string    `bson:"actor"`
	Subject  string    `bson:"subject,omitempty"`
	Details  []byte    `bson:"details,omitempty"`
	At       time.Time `bson:"at"`
	PrevHash []byte    `bson:"prev_hash"`
	Hash     []byte    `bson:"hash"`
}

func toAuditDoc(e *store.AuditEntry) *auditDoc {
	return &auditDoc{
		UserID: e.UserID, Seq: e.Seq, Event: e.Event, Actor: e.Actor, Subject: e.Subject, Details: e.Details,
		At: e.At, PrevHash: e.PrevHash, Hash: e.Hash,
	}
}

func (d *auditDoc) entry() *store.AuditEntry {
	return &store.AuditEntry{
		UserID: d.UserID, Seq: d.Seq, Event: d.Event, Actor: d.Actor, Subject: d.Subject, Details: nonEmpty(d.Details),
		At: utc(d.At), PrevHash: nonEmpty(d.PrevHash), Hash: nonEmpty(d.Hash),
	}
}

// utc returns t in UTC, and the zero time for a field that was left out.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

func nonEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func nonEmptyList(l [][]byte) [][]byte {
	if len(l) == 0 {
		return nil
	}
	return l
}
