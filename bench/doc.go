// Package bench measures what consent-gated encryption costs: the harness
// behind `assent bench`, for the "bench/" entry of DESIGN.md's layout.
//
// One run measures, each figure next to a baseline taken in the same
// process run:
//
//  1. Primitives: CIRCL's RFC 9497 POPRF evaluate and finalize, base OPRF
//     evaluate, Ed25519, AES-256-GCM on 64 KiB chunks.
//  2. Protocol: the CPU the server spends per create and per access
//     approval, and the device per evaluation, each next to the sum of the
//     primitives it cannot do without (ratio); first the threshold step
//     alone, in this process, then the whole server and device on loopback.
//  3. The envelope (envelope/) sealing and opening next to raw AES-256-GCM.
//  4. End to end: a real server (server.New on SQLite and a blob directory,
//     in a child process so that its CPU time and peak RSS are its own) and
//     simulated devices (device.Agent with a policy that approves at once):
//     records sealed and access sessions opened per second at several
//     concurrencies with latency percentiles, upload and download rates for
//     large records, and the server's peak RSS.
//  5. Growth: time per record as the store fills, and memory per pending
//     request.
//  6. filippo.io/age encrypting the same file as the envelope.
//
// CPU figures are process CPU time (getrusage), so that other load on the
// machine does not inflate them; rates and latencies are wall-clock time.
// Nothing here is a test of speed: figures are reported against the goals,
// never asserted.
package bench
