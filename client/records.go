package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/assent-dev/assent/api"
)

// CreateRecord creates a record of user uid awaiting its upload
// (POST /v1/users/{uid}/records, scope records:write).
func (c *Client) CreateRecord(ctx context.Context, uid string, in api.CreateRecordRequest) (*api.CreatedRecord, error) {
	var out api.CreatedRecord
	if err := c.call(ctx, http.MethodPost, api.UserRecordsPath(uid), in, http.StatusCreated, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Upload streams the record's content from r (PUT /v1/records/{rid}/content)
// without holding it in memory. size is its length in bytes, or -1 if
// unknown (sent chunked). The 202 answer names the request the user's device
// must approve, and carries its MatchCode: show those two digits to the
// user, whose device may ask for them (number matching). Wait for the
// device with AwaitRecord. Past the server's upload cap
// it fails with api.ErrTooLarge.
func (c *Client) Upload(ctx context.Context, rid string, r io.Reader, size int64) (*api.Pending, error) {
	req, err := c.newRequest(ctx, http.MethodPut, api.RecordContentPath(rid), io.NopCloser(r))
	if err != nil {
		return nil, err
	}
	req.ContentLength = size
	if size == 0 {
		req.Body = http.NoBody
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := c.do(req, http.StatusAccepted)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out api.Pending
	return &out, decode(resp, &out)
}

// Record reads a record (GET /v1/records/{rid}). With wait > 0 the server
// holds the answer up to wait (at most api.MaxWaitSeconds, in whole
// seconds) while the record is pending approval.
func (c *Client) Record(ctx context.Context, rid string, wait time.Duration) (*api.Record, error) {
	var out api.Record
	if err := c.call(ctx, http.MethodGet, api.RecordPath(rid)+waitQuery(wait), nil, http.StatusOK, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AwaitRecord long-polls a record until it leaves pending_approval (sealed,
// rejected or expired) or ctx ends, and returns it.
func (c *Client) AwaitRecord(ctx context.Context, rid string) (*api.Record, error) {
	return await(ctx, func() (*api.Record, string, error) {
		r, err := c.Record(ctx, rid, longPoll)
		if err != nil {
			return nil, "", err
		}
		return r, r.State, nil
	})
}

// longPoll is the longest wait AwaitRecord and AwaitSession ask for at once.
const longPoll = api.MaxWaitSeconds * time.Second

func waitQuery(wait time.Duration) string {
	s := int64(wait / time.Second)
	if s <= 0 {
		return ""
	}
	return "?" + api.QueryWait + "=" + strconv.FormatInt(min(s, api.MaxWaitSeconds), 10)
}

// await repeats get while the state is pending_approval.
func await[T any](ctx context.Context, get func() (T, string, error)) (T, error) {
	for {
		start := time.Now()
		v, state, err := get()
		if err != nil || state != api.RecordPendingApproval {
			return v, err
		}
		// A long poll that ends early without a change (a server shutting
		// down ends them all) is not repeated at once.
		if time.Since(start) < time.Second {
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
		if err := ctx.Err(); err != nil {
			return v, fmt.Errorf("client: still %s: %w", state, err)
		}
	}
}
