package netcode

import "github.com/tickstream/tickstream/netcode/wire"

// Metric labels of refusals and disconnects.
const (
	reasonClientClosed   = "client_closed"
	reasonClientAbnormal = "client_closed_abnormally"
	reasonLost           = "connection_lost"
	reasonMatchOver      = "match_over"
	reasonShutdown       = "shutdown"
	reasonTooSlow        = "too_slow"
	reasonTooBig         = "too_big"
	reasonRateLimited    = "rate_limited"
	reasonHeartbeat      = "heartbeat_timeout"
	reasonReplaced       = "replaced"

	// Limits (limits.go).
	reasonTooManyConns   = "too_many_connections" // HTTP 429
	reasonTooManySeats   = "too_many_seats"       // close 4013
	reasonCreateLimited  = "create_rate_limited"  // HTTP 429
	reasonUnauthorized   = "unauthorized"         // HTTP 401
	reasonFlooding       = "flooding"             // close 4014
	reasonRedirect       = "redirect"             // close 4015, not a refusal
	reasonControlLimited = "control_rate_limited" // pong or suspend dropped
	reasonJoinLimited    = "join_rate_limited"    // close 4009: the node's join admission limit
)

// limitReasons are the limits' labels, present at zero from the start.
var limitReasons = []string{reasonTooManyConns, reasonTooManySeats, reasonCreateLimited, reasonUnauthorized,
	reasonFlooding, reasonControlLimited, reasonJoinLimited}

// codeReasons maps refusal close codes to metric labels.
var codeReasons = map[wire.CloseCode]string{
	wire.CloseBadMessage:  "bad_message",
	wire.CloseUnknownType: "unknown_type",
	wire.CloseBadInput:    "bad_input",
	wire.CloseBadName:     "bad_name",
	wire.CloseNoSuchMatch: "no_such_match",
	wire.CloseMatchFull:   "match_full",
	wire.CloseMatchEnded:  "match_ended",
	wire.CloseTooSlow:     reasonTooSlow,
	wire.CloseProtocol:    "protocol",
	wire.CloseServerFull:  "server_full",
	wire.CloseTooBig:      reasonTooBig,
	wire.CloseHeartbeat:   reasonHeartbeat,
	wire.CloseReplaced:    reasonReplaced,

	wire.CloseTooManySeats: reasonTooManySeats,
	wire.CloseFlooding:     reasonFlooding,
	wire.CloseRedirect:     reasonRedirect,
}

// isRefusal reports whether closing with code refuses something the client
// did (counted in tickstream_refusals_total).
func isRefusal(code wire.CloseCode) bool {
	return code == wire.CloseTooBig || code == wire.CloseTooManySeats || code == wire.CloseFlooding ||
		(code >= wire.CloseBadMessage && code <= wire.CloseServerFull && code != wire.CloseTooSlow)
}

// httpRefusals are the labels of refusals answered with an HTTP status.
var httpRefusals = []string{"bad_config", "bad_content_type", "bad_json", "bad_query", "bad_upgrade",
	"cross_origin", "no_subprotocol", "no_such_match", "not_websocket", "server_full", "shutdown",
	"spectators_full", "resume_refused", "no_such_replay"}

// spectatorEndReasons are the labels of tickstream_spectator_disconnects_total.
var spectatorEndReasons = []string{reasonClientClosed, reasonLost, reasonMatchOver, reasonShutdown,
	reasonTooSlow, reasonHeartbeat, "bad_message", "protocol", reasonFlooding}

// refusalReasons lists every label of tickstream_refusals_total.
func refusalReasons() []string {
	out := append([]string{}, httpRefusals...)
	out = append(out, limitReasons...)
	for _, r := range codeReasons {
		out = append(out, r)
	}
	return out
}

// sessionEndReasons lists every label of tickstream_disconnects_total.
func sessionEndReasons() []string {
	out := []string{reasonClientClosed, reasonClientAbnormal, reasonLost, reasonMatchOver, reasonShutdown,
		reasonTooSlow, reasonTooBig, reasonHeartbeat, reasonReplaced, reasonFlooding, reasonTooManySeats, "resume_refused", reasonJoinLimited}
	for _, r := range codeReasons {
		out = append(out, r)
	}
	return out
}
