// Package server is Assent's HTTP API (DESIGN.md, "HTTP API (v1)" and
// "Flows"; wire details in the lead's WIRE decisions): third parties create
// users and records and ask for access with API keys, devices enroll and
// answer requests with signed calls, and the server seals and opens records
// only with a device's POPRF evaluation of each record.
//
// A [Server] is built by [New] from a [Config] and its [Deps] (store, blob
// store, master key, push, clock, randomness, logger). [Server.Handler]
// serves the API on any listener; [Server.Run] and [Server.Serve] add the
// background work (sweeper, answer poller, push relay) and a graceful
// shutdown.
//
// What the server keeps in memory only: the data key of a record being
// sealed and the blinds of every pending request (until the device answers
// or the request expires), and the data key of an open access session. None
// of it is ever logged or written to disk; a restart loses it, and the
// pending requests left behind are expired at the next start.
//
// Scale-out (DESIGN.md, "Scale-out" and "Push"): several nodes may share
// one store, each with a distinct, stable NodeID. A request's secrets stay
// on the node that made it; an answer reaching another node is stored and
// acted on by the owner's answer poller (Config.AnswerPollInterval). Event
// streams live in each node's memory, so every node also lists, every
// Config.PushPollInterval, the pending requests of the users streaming from
// it and pushes the ones other nodes made, each once per node: a device
// hears of a request within about that interval whatever node made it.
// Webhooks are called only by the node that made the request. An open
// session is served only by the node that opened it (409 elsewhere), and
// the rate limits are per node; the cap of pending requests is global.
package server
