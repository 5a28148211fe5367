package server

import (
	"context"
	"errors"

	"github.com/assent-dev/assent/envelope"
	"github.com/assent-dev/assent/store"
)

// contentSink takes a record's ciphertext as the envelope writes it. It
// keeps up to store.MaxInlineContent bytes in memory, so that a small
// record's ciphertext is written by the store in the staging's own
// transaction (Staging.Content) and costs no file of its own; the first
// write past that stages a blob, hands it what was kept and streams the
// rest. Memory stays bounded whatever the record's size.
type contentSink struct {
	s   *Server
	ctx context.Context
	rid string

	buf  []byte
	blob store.StagedBlob // once the ciphertext outgrew buf
}

// newContentSink returns the sink of record rid's upload of declared
// length (-1 when unknown). A length whose ciphertext cannot be kept
// stages the blob at once, so that no large record passes through buf.
func (s *Server) newContentSink(ctx context.Context, rid string, length int64) (*contentSink, error) {
	k := &contentSink{s: s, ctx: ctx, rid: rid}
	if length < 0 {
		return k, nil
	}
	size := envelope.CiphertextSize(length)
	if size < 0 || size > store.MaxInlineContent {
		return k, k.spill()
	}
	k.buf = make([]byte, 0, size)
	return k, nil
}

func (k *contentSink) Write(p []byte) (int, error) {
	if k.blob == nil && len(k.buf)+len(p) > store.MaxInlineContent {
		if err := k.spill(); err != nil {
			return 0, err
		}
	}
	if k.blob != nil {
		return k.blob.Write(p)
	}
	k.buf = append(k.buf, p...)
	return len(p), nil
}

// spill stages the blob and writes what buf holds to it.
func (k *contentSink) spill() error {
	blob, err := k.s.stage(k.ctx, k.rid)
	if err != nil {
		return err
	}
	k.blob = blob
	if len(k.buf) > 0 {
		if _, err := blob.Write(k.buf); err != nil {
			return err
		}
	}
	k.buf = nil
	return nil
}

// Close flushes a staged blob durably; kept content needs nothing.
func (k *contentSink) Close() error {
	if k.blob == nil {
		return nil
	}
	return k.blob.Close()
}

// abort removes a staged blob; kept content is just dropped.
func (k *contentSink) abort() {
	k.buf = nil
	if k.blob == nil {
		return
	}
	if err := k.blob.Abort(); err != nil {
		k.s.log.Warn("aborting a staged blob failed", "record_id", k.rid, "error", err)
	}
}

// content returns the ciphertext kept in memory, nil if it went to a blob.
func (k *contentSink) content() []byte {
	if k.blob != nil {
		return nil
	}
	return k.buf
}

// sinkFail classifies a failure to write an upload's ciphertext: the
// sink's own API errors (staging a blob) pass as they are.
func sinkFail(err error) error {
	var ae *apiError
	if errors.As(err, &ae) {
		return err
	}
	return writeFail(err)
}
