package server

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v5"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/oprf"
	"github.com/assent-dev/assent/store"
)

// Enrollment codes: 100 random bits as 20 characters of the RFC 4648 base32
// alphabet, shown in groups of five (ABCDE-FGHIJ-KLMNO-PQRST), valid
// EnrollmentTTL and single use. Only their SHA-256 is stored.
const (
	EnrollmentTTL     = 15 * time.Minute
	enrollmentCodeLen = 20
	// shareVersion is the version of a user's server share bound into its
	// wrap; a rotation of shares would bump it.
	shareVersion = 1
)

// createUser: POST /v1/users. It makes the user's server share, stores it
// wrapped under the master key, and issues a first enrollment code.
func (s *Server) createUser(c *echo.Context) error {
	var in api.CreateUserRequest
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if err := checkText("external_id", in.ExternalID, true); err != nil {
		return err
	}
	if err := checkText("display_name", in.DisplayName, false); err != nil {
		return err
	}
	ctx := c.Request().Context()
	cl := authClient(c)
	uid, err := ids.New(ids.User, s.rand)
	if err != nil {
		return failCause(errInternal, msgInternal, err)
	}
	share, err := oprf.GenerateKey(s.rand)
	if err != nil {
		return failCause(errInternal, msgInternal, err)
	}
	wrapped, err := s.master.WrapShare(s.rand, uid, shareVersion, share)
	share.Destroy()
	if err != nil {
		return failCause(errInternal, msgInternal, err)
	}
	u := &store.User{
		ID:           uid,
		ClientID:     cl.ID,
		ExternalID:   in.ExternalID,
		DisplayName:  in.DisplayName,
		ShareWrapped: wrapped,
		ShareVersion: shareVersion,
		CreatedAt:    s.now(),
	}
	if err := s.store.CreateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return failCause(errConflict, "a user with this external_id exists", err)
		}
		return storeFail(err, "user")
	}
	s.audit(ctx, uid, store.EventUserCreated, cl.ID, uid, nil)
	out, err := s.issueEnrollment(ctx, uid)
	if err != nil {
		// The user exists; only the code is missing, and a new one can be
		// asked for.
		return failCause(errUnavailable, "user "+uid+" was created but no enrollment code could be issued; ask for one with POST /v1/users/"+uid+"/enrollment", err)
	}
	return c.JSON(http.StatusCreated, out)
}

// newEnrollment: POST /v1/users/{uid}/enrollment, a code for a new device.
// Only the client that created the user may ask.
func (s *Server) newEnrollment(c *echo.Context) error {
	u, err := s.ownUser(c)
	if err != nil {
		return err
	}
	out, err := s.issueEnrollment(c.Request().Context(), u.ID)
	if err != nil {
		return storeFail(err, "enrollment")
	}
	return c.JSON(http.StatusCreated, out)
}

// userAudit: GET /v1/users/{uid}/audit.
func (s *Server) userAudit(c *echo.Context) error {
	u, err := s.ownUser(c)
	if err != nil {
		return err
	}
	return s.writeAudit(c, u.ID)
}

// ownUser loads the user of path parameter uid, which must belong to the
// calling client (403 otherwise).
func (s *Server) ownUser(c *echo.Context) (*store.User, error) {
	uid, err := pathID(c, "uid", ids.User)
	if err != nil {
		return nil, err
	}
	u, err := s.store.GetUser(c.Request().Context(), uid)
	if err != nil {
		return nil, storeFail(err, "user")
	}
	if u.ClientID != authClient(c).ID {
		return nil, fail(errForbidden, "the user belongs to another client")
	}
	return u, nil
}

// issueEnrollment stores a fresh enrollment code for userID.
func (s *Server) issueEnrollment(ctx context.Context, userID string) (*api.Enrollment, error) {
	code, err := newEnrollmentCode(s.rand)
	if err != nil {
		return nil, err
	}
	sum := sha256Sum([]byte(code))
	expires := s.now().Add(EnrollmentTTL)
	if err := s.store.CreateEnrollment(ctx, &store.Enrollment{CodeHash: sum, UserID: userID, ExpiresAt: expires}); err != nil {
		return nil, err
	}
	return &api.Enrollment{UserID: userID, EnrollmentCode: groupCode(code), EnrollmentExpiresAt: expires}, nil
}

// newEnrollmentCode returns 20 base32 characters of 100 random bits.
func newEnrollmentCode(rand io.Reader) (string, error) {
	var b [13]byte // 104 bits; the 20 characters kept carry 100 of them
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", err
	}
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])[:enrollmentCodeLen], nil
}

// groupCode shows a code in groups of five joined by '-'.
func groupCode(code string) string {
	var sb strings.Builder
	for i := 0; i < len(code); i += 5 {
		if i > 0 {
			sb.WriteByte('-')
		}
		sb.WriteString(code[i:min(i+5, len(code))])
	}
	return sb.String()
}

// normalizeCode undoes how people type a code: it drops '-' and spaces and
// upper-cases. It returns false unless 20 base32 characters remain.
func normalizeCode(s string) (string, bool) {
	if len(s) > 64 {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '-' || ch == ' ':
			continue
		case ch >= 'a' && ch <= 'z':
			ch -= 'a' - 'A'
		}
		if (ch < 'A' || ch > 'Z') && (ch < '2' || ch > '7') {
			return "", false
		}
		b.WriteByte(ch)
	}
	if b.Len() != enrollmentCodeLen {
		return "", false
	}
	return b.String(), true
}

// checkText checks a free-text field: valid UTF-8 without control
// characters, at most store.MaxTextLen bytes, and not empty if required.
func checkText(name, v string, required bool) error {
	switch {
	case required && v == "":
		return fail(errBadRequest, name+" is required")
	case len(v) > store.MaxTextLen:
		return fail(errBadRequest, name+" is over 1024 bytes")
	}
	if !utf8.ValidString(v) || strings.ContainsFunc(v, unicode.IsControl) {
		return fail(errBadRequest, name+" must be UTF-8 text without control characters")
	}
	return nil
}

func sha256Sum(b []byte) []byte {
	sum := sha256.Sum256(b)
	return sum[:]
}
