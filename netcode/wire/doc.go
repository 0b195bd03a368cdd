// Package wire is the Tickstream wire protocol, version 2 (subprotocol
// tickstream.v2): message types, close codes, limits, the guarded decoder
// for client frames, the encoders of server frames, and the client side of
// snapshots: entity rows quantized to integers (Quant), deltas against a
// view the client acknowledged (AppendSnapBody, DecodeSnap, ApplyRows,
// Views). docs/protocol.md is its human-readable
// contract; the two change together.
//
// Decoding bytes from the network goes through Check first: msgpack headers
// declare lengths up front and vmihailenco/msgpack pre-allocates from them,
// so a 9-byte frame can ask for gigabytes (v5.4.0 and v5.4.1: measured, the
// process died under a 6 GB limit on 81 a1 6b dd ff ff ff ff). Check
// walks the headers and refuses any length that does not fit the bytes
// present, any nesting deeper than MaxDepth and any ext type, before a
// decoder sees the frame. The snapshot readers (DecodeSnap, DecodeSnapHead)
// are hand-written and give the same guarantees on their own: every length
// is checked against the bytes present, nothing is allocated from a
// declared length, and no input makes them panic.
//
// Everything in this package is safe for concurrent use unless a type says
// otherwise.
package wire
