package push

import (
	"bufio"
	"bytes"
	"testing"

	"github.com/assent-dev/assent/internal/ids"
)

// BenchmarkReadEvents compares the parser with the baseline of only
// splitting the same stream into lines.
func BenchmarkReadEvents(b *testing.B) {
	frame := eventFrame([]byte(`{"request_id":"req_aaaaaaaaaaaaaaaaaaaaaaaaaa"}`))
	stream := bytes.Repeat(append(frame, keepaliveFrame...), 1000)
	b.Run("baseline=lines", func(b *testing.B) {
		b.SetBytes(int64(len(stream)))
		for b.Loop() {
			sc := bufio.NewScanner(bytes.NewReader(stream))
			for sc.Scan() {
			}
		}
	})
	b.Run("ReadEvents", func(b *testing.B) {
		b.SetBytes(int64(len(stream)))
		for b.Loop() {
			if err := ReadEvents(bytes.NewReader(stream), func(string, []byte) error { return nil }); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkHubNotify compares Notify to a user with eight open streams
// (drained as fast as they fill) with the baseline of a user with none.
func BenchmarkHubNotify(b *testing.B) {
	req := newID(b, ids.Request)
	for _, n := range []int{0, 8} {
		name := "baseline=0streams"
		if n > 0 {
			name = "8streams"
		}
		b.Run(name, func(b *testing.B) {
			hub, err := NewHub(HubOptions{Buffer: 1024})
			if err != nil {
				b.Fatal(err)
			}
			defer hub.Close()
			user := newID(b, ids.User)
			for range n {
				s, err := hub.subscribe(user, newID(b, ids.Device))
				if err != nil {
					b.Fatal(err)
				}
				go func() {
					for {
						select {
						case <-s.events:
						case <-s.done:
							return
						}
					}
				}()
			}
			for b.Loop() {
				if err := hub.Notify(b.Context(), user, req); err != nil {
					b.Fatal(err)
				}
			}
			if d := hub.Stats().Dropped; d != 0 {
				b.Logf("%d streams dropped", d)
			}
		})
	}
}
