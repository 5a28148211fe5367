package threshold

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"
)

// ParseStatement decodes approval statement bytes (Statement.Marshal's
// layout) back into a Statement, for a verifier that holds only the signed
// bytes. It is strict: the label, every length prefix, the blinded
// elements' 32-byte size and the end must be exact, and the result must
// re-marshal to the same bytes (so one statement has one encoding). Errors
// wrap ErrStatement.
func ParseStatement(b []byte) (*Statement, error) {
	d := decoder{buf: b}
	d.label(LabelApproval)
	d.byte0()
	s := &Statement{
		RequestID: string(d.lp()),
		Kind:      string(d.lp()),
		UserID:    string(d.lp()),
		RecordID:  string(d.lp()),
		Decision:  string(d.lp()),
	}
	if digest := d.lp(); len(digest) > 0 {
		s.ContentSHA256 = bytes.Clone(digest)
	}
	s.RequesterID = string(d.lp())
	s.Purpose = string(d.lp())
	blinded := d.lp()
	at := d.u64()
	if err := d.end(); err != nil {
		return nil, err
	}
	if len(blinded)%elementSize != 0 {
		return nil, fmt.Errorf("%w: blinded elements are %d bytes, not a multiple of %d", ErrStatement, len(blinded), elementSize)
	}
	for i := 0; i < len(blinded); i += elementSize {
		s.BlindedElements = append(s.BlindedElements, bytes.Clone(blinded[i:i+elementSize]))
	}
	var err error
	if s.ExpiresAt, err = expiry(at); err != nil {
		return nil, err
	}
	if err := reencodes(s.Marshal, b); err != nil {
		return nil, err
	}
	return s, nil
}

// expiry is the time of a statement's u64be expiry.
func expiry(at uint64) (time.Time, error) {
	if at > 1<<62 {
		return time.Time{}, fmt.Errorf("%w: expiry out of range", ErrStatement)
	}
	return time.Unix(int64(at), 0).UTC(), nil
}

// reencodes checks that a parsed statement marshals back to b, so that one
// statement has one encoding.
func reencodes(marshal func() ([]byte, error), b []byte) error {
	again, err := marshal()
	if err != nil {
		return err
	}
	if !bytes.Equal(again, b) {
		return fmt.Errorf("%w: the statement does not re-encode to itself", ErrStatement)
	}
	return nil
}

// end returns the first error, or an error if bytes are left.
func (d *decoder) end() error {
	if d.err != nil {
		return d.err
	}
	if len(d.buf) != 0 {
		return fmt.Errorf("%w: %d bytes after the statement", ErrStatement, len(d.buf))
	}
	return nil
}

// decoder reads the fields encoder writes, keeping the first error.
type decoder struct {
	buf []byte
	err error
}

func (d *decoder) take(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.buf) < n {
		d.err = fmt.Errorf("%w: truncated at the %s", ErrStatement, what)
		return nil
	}
	out := d.buf[:n]
	d.buf = d.buf[n:]
	return out
}

func (d *decoder) label(l string) {
	if got := d.take(len(l), "label"); d.err == nil && string(got) != l {
		d.err = fmt.Errorf("%w: not an %s statement", ErrStatement, l)
	}
}

func (d *decoder) byte0() {
	if got := d.take(1, "separator"); d.err == nil && got[0] != 0 {
		d.err = fmt.Errorf("%w: no 0x00 after the label", ErrStatement)
	}
}

func (d *decoder) lp() []byte {
	n := d.take(2, "length prefix")
	if d.err != nil {
		return nil
	}
	return d.take(int(binary.BigEndian.Uint16(n)), "field")
}

func (d *decoder) u64() uint64 {
	b := d.take(8, "time")
	if d.err != nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// ParseAddDeviceStatement decodes add_device statement bytes
// (AddDeviceStatement.Marshal's layout), for the new device, which must
// read what the statement names before it opens the bundle. It is strict
// as ParseStatement is: exact label and lengths, nothing after the end, and
// the result re-marshals to the same bytes. Errors wrap ErrStatement.
func ParseAddDeviceStatement(b []byte) (*AddDeviceStatement, error) {
	d := decoder{buf: b}
	d.label(LabelAddDevice)
	d.byte0()
	s := &AddDeviceStatement{
		RequestID:        string(d.lp()),
		UserID:           string(d.lp()),
		NewDeviceID:      string(d.lp()),
		SigningPublicKey: bytes.Clone(d.lp()),
		TransferKeyHash:  bytes.Clone(d.lp()),
		SenderDeviceID:   string(d.lp()),
		DeviceKeyID:      string(d.lp()),
		Decision:         string(d.lp()),
	}
	at := d.u64()
	if err := d.end(); err != nil {
		return nil, err
	}
	var err error
	if s.ExpiresAt, err = expiry(at); err != nil {
		return nil, err
	}
	if err := reencodes(s.Marshal, b); err != nil {
		return nil, err
	}
	return s, nil
}
