package auth

import "errors"

// Sentinel errors. Functions wrap them with %w and a short description of
// what is wrong, so callers branch with errors.Is and logs still say why.
var (
	// ErrBadRoomCode means a string is not a well-formed room code.
	ErrBadRoomCode = errors.New("auth: bad room code")
	// ErrTokenMalformed means a token could not be parsed at all.
	ErrTokenMalformed = errors.New("auth: malformed token")
	// ErrTokenExpired means a token is past its expiry; the client should
	// fetch a new one.
	ErrTokenExpired = errors.New("auth: token expired")
	// ErrTokenInvalid means a well-formed token failed verification: bad
	// signature, unexpected algorithm, wrong issuer or audience, missing
	// claims, or not valid yet (nbf/iat in the future beyond the leeway, which
	// means a clock is wrong or the token was not made by us).
	ErrTokenInvalid = errors.New("auth: invalid token")
	// ErrWrongRoom means a valid token was issued for another room.
	ErrWrongRoom = errors.New("auth: token is for another room")
	// ErrTURNExpired means a TURN username's expiry time has passed.
	ErrTURNExpired = errors.New("auth: TURN credentials expired")
	// ErrTURNMalformed means a TURN username is not "<unix expiry>:<id>".
	ErrTURNMalformed = errors.New("auth: malformed TURN username")
	// ErrBadHostKey means a host key is not the one of its room.
	ErrBadHostKey = errors.New("auth: wrong host key")
	// ErrConfig means an IssuerConfig is unusable.
	ErrConfig = errors.New("auth: bad configuration")
)
