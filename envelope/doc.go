// Package envelope implements Assent's streaming content encryption, as
// specified in DESIGN.md, "Content encryption (streaming)": a chunked AEAD of
// the same shape as age's STREAM (https://age-encryption.org/v1, after
// Hoang, Reyhanitabar, Rogaway and Vizár, "Online Authenticated-Encryption
// and its Nonce-Reuse Misuse-Resistance"), over AES-256-GCM.
//
// A record's plaintext is sealed under a 32-byte data key (DEK) by a [Writer]
// and opened by a [Reader]. The Reader holds one chunk in memory and the
// Writer at most seventeen (two groups of eight plaintext chunks, a group
// hashed by a second goroutine while the Writer seals and fills the other,
// and one sealed chunk), whatever the size of the record; a record smaller
// than a group holds only the chunks it fills.
//
// # Format (version 1)
//
// An envelope is a 26-byte header followed by one or more chunks:
//
//	header  = "ASNT" || 0x01 (version) || 0x01 (algorithm: AES-256-GCM STREAM)
//	          || u32be(65536) (chunk size) || header_nonce (16 random bytes)
//	payload_key = HKDF-SHA256(ikm = DEK, salt = header_nonce,
//	                          info = "assent/payload/v1"), 32 bytes
//	chunk_i = AES-256-GCM-Seal(key = payload_key, nonce = nonce_i,
//	                           plaintext = p_i, additional data = header)
//	nonce_i = u88be(i) || flag_i            (12 bytes; i counts from 0)
//	flag_i  = 0x01 if chunk i is the final chunk, else 0x00
//
// The plaintext is cut into chunks p_0 .. p_n of 65536 bytes each, but for
// the final chunk p_n, which holds 1 to 65536 bytes. The final chunk is empty
// only when the whole plaintext is empty, and then it is the only chunk: a
// plaintext of exactly k*65536 bytes (k >= 1) is k full chunks, the last of
// which carries the final flag, never followed by an empty chunk. Each chunk
// on the wire is its GCM ciphertext followed by its 16-byte tag, so every
// non-final chunk is exactly 65552 bytes and the final one 16 to 65552. Nothing
// follows the final chunk. A stream longer than 2^88 chunks cannot be written.
//
// The header nonce binds the payload key to one envelope (a fresh key per
// record even if a DEK were reused), and the whole header, as the additional
// data of every chunk, is authenticated along with each chunk.
//
// # Reading
//
// A [Reader] accepts exactly the streams a [Writer] produces. It rejects a
// header other than the one above (another magic, version, algorithm or chunk
// size), a chunk that fails authentication (a flipped bit, a chunk moved,
// swapped in from another envelope or another position, a final flag out of
// place), a stream that ends before a chunk marked final, an empty final chunk
// after another chunk, and any byte after the final chunk. Each of these is
// the one opaque error [ErrCorrupt]. To tell the final chunk from the others,
// the reader reads one byte past each full-size chunk: a full chunk followed by
// the end of the stream must open with the final flag, any other full chunk
// without it.
//
// Plaintext of a chunk is returned only once the chunk has been authenticated,
// so a caller may see the plaintext of the chunks before a bad one, and must
// treat the record as valid only when Read reports [io.EOF].
package envelope
