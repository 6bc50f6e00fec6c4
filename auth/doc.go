// Package auth issues and checks the short-lived credentials of a meeting:
// room codes, participant ids, signed join tokens (JWT, HS256) and TURN
// REST-style credentials.
//
// Everything here is stateless on purpose. A token carries the room, the
// grants and the billing plan, and any node that knows the shared secret can
// verify it, so multi-node deployments need no token store and nothing is
// written anywhere. Tokens live minutes, not hours: a leaked link key is the
// real secret of a room (it never reaches the server), while a leaked token
// only lets someone join for a few minutes.
//
// Room codes and secrets implement slog.LogValuer and redact themselves, so a
// careless slog call cannot put them into logs.
package auth
