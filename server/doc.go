// Package server is Assent's HTTP API (DESIGN.md, "HTTP API (v1)" and
// "Flows"; wire details in the lead's WIRE decisions): third parties create
// users and records and ask for access with API keys, devices enroll and
// answer requests with signed calls, and the server seals and opens records
// only with a device's POPRF evaluation of each record.
//
// A [Server] is built by [New] from a [Config] and its [Deps] (store, blob
// store, master key, push, clock, randomness, logger). [Server.Handler]
// serves the API on any listener; [Server.Run] and [Server.Serve] add the
// background work (sweeper, answer poller) and a graceful shutdown.
//
// What the server keeps in memory only: the data key of a record being
// sealed and the blinds of every pending request (until the device answers
// or the request expires), and the data key of an open access session. None
// of it is ever logged or written to disk; a restart loses it, and the
// pending requests left behind are expired at the next start.
package server
