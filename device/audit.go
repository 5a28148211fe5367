package device

import (
	"context"
	"fmt"
	"strconv"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/audit"
)

// maxAuditEntries bounds how much of a chain Audit will hold.
const maxAuditEntries = 1 << 20

// Audit fetches the whole audit chain of the device's user
// (GET /v1/device/audit?after=N, page by page) and verifies it with
// audit.VerifyChain: every entry from 1 on, linked and hashed, all of this
// user. A chain that does not verify, or pages that do not continue each
// other, give ErrProtocol (wrapping audit.ErrChainBroken for a broken
// chain).
func (c *Client) Audit(ctx context.Context) ([]*audit.Entry, error) {
	if c.id == nil {
		return nil, ErrNotEnrolled
	}
	var all []*audit.Entry
	for {
		after := int64(len(all))
		var page api.AuditList
		err := c.do(ctx, call{method: methodGet, target: api.PathDeviceAudit + "?after=" + strconv.FormatInt(after, 10),
			signed: true, want: statusOK, out: &page})
		if err != nil {
			return nil, err
		}
		if len(page.Entries) == 0 {
			break
		}
		if len(all)+len(page.Entries) > maxAuditEntries {
			return nil, fmt.Errorf("%w: audit chain over %d entries", ErrProtocol, maxAuditEntries)
		}
		for i, e := range page.Entries {
			if e.Seq != after+int64(i)+1 {
				return nil, fmt.Errorf("%w: audit page after entry %d holds entry %d out of order", ErrProtocol, after, e.Seq)
			}
			entry := audit.Entry(e)
			all = append(all, &entry)
		}
	}
	if len(all) > 0 && all[0].UserID != c.id.UserID {
		return nil, fmt.Errorf("%w: audit chain of another user", ErrProtocol)
	}
	if err := audit.VerifyChain(all); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	return all, nil
}
