package server

import (
	"fmt"
	"io"
	"net/http"

	"github.com/labstack/echo/v5"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/internal/secret"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/threshold"
)

// BaselineUploadPath is the route of Deps.NoConsentBaseline: PUT the
// content of a record awaiting upload, as PUT /v1/records/{rid}/content,
// and the record is sealed before the answer (200 {record_id, state}).
const BaselineUploadPath = "/bench/no-consent/records/:rid/content"

// baselineStatement stands in for a device's statement on records the
// baseline seals: no device approved them.
const baselineStatement = "assent/bench/no-consent: sealed by the server alone"

// baselineKeys is what the no-consent baseline seals under: one KEK the
// server holds, and the stand-in device of its seals.
type baselineKeys struct {
	kek      []byte
	deviceID string
	keyID    string
}

func newBaselineKeys(rand io.Reader) (*baselineKeys, error) {
	k := &baselineKeys{kek: make([]byte, threshold.KeySize)}
	if _, err := io.ReadFull(rand, k.kek); err != nil {
		return nil, fmt.Errorf("no-consent baseline key: %w", err)
	}
	var err error
	if k.deviceID, err = ids.New(ids.Device, rand); err != nil {
		return nil, err
	}
	k.keyID = threshold.DeviceKeyID([]byte(k.deviceID))
	return k, nil
}

// baselineUpload: PUT BaselineUploadPath. What "just trust the server"
// costs on the same HTTP path, envelope and store as uploadContent: the
// body is encrypted into the store or the blob store alike, then the data key is wrapped
// under the server's own key (AES-256-GCM with the same associated data),
// the blob committed and the record staged and sealed at once. No device
// request, no OPRF, no signature.
func (s *Server) baselineUpload(c *echo.Context) error {
	rec, err := s.uploadTarget(c)
	if err != nil {
		return err
	}
	rid, ctx := rec.ID, c.Request().Context()
	if !s.uploads.tryLock(rid) {
		return fail(errConflict, "an upload of this record is in progress")
	}
	defer s.uploads.unlock(rid)
	up, err := s.receive(c, rid)
	if err != nil {
		return err
	}
	defer secret.Clear(up.dek)
	abandon := func(err error) error {
		s.dropBlob(ctx, up, rid)
		return err
	}
	ad, err := threshold.WrapAD(rec.UserID, rid, up.sum, uint64(up.size))
	if err != nil {
		return abandon(failCause(errInternal, msgInternal, err))
	}
	wrapped, err := threshold.WrapDEK(s.rand, s.baseline.kek, up.dek, ad)
	if err != nil {
		return abandon(failCause(errInternal, msgInternal, err))
	}
	input := make([]byte, 32)
	if _, err := io.ReadFull(s.rand, input); err != nil {
		return abandon(failCause(errInternal, msgInternal, err))
	}
	reqID, err := ids.New(ids.Request, s.rand)
	if err != nil {
		return abandon(failCause(errInternal, msgInternal, err))
	}
	if up.content == nil {
		if err := s.blobs.Commit(ctx, rid); err != nil {
			return abandon(storeFail(err, "blob"))
		}
	}
	now := s.now()
	st := up.staging(rid)
	st.Input, st.DeviceKeyID, st.RequestID, st.ExpiresAt = input, s.baseline.keyID, reqID, now.Add(s.cfg.ApprovalTTL)
	if err := s.store.StageRecord(ctx, rid, st); err != nil {
		return abandon(storeFail(err, "record"))
	}
	err = s.store.SealRecord(ctx, rid, store.Seal{WrappedDEK: wrapped, SealedAt: now, Approval: store.Approval{
		DeviceID: s.baseline.deviceID, Statement: []byte(baselineStatement), Signature: make([]byte, 64),
	}}, now)
	if err != nil {
		return storeFail(err, "record")
	}
	s.changes.changed(rid)
	return c.JSON(http.StatusOK, api.CreatedRecord{RecordID: rid, State: store.RecordSealed})
}
