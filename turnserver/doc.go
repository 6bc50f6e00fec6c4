// Package turnserver embeds a TURN server (RFC 8656, on pion/turn) for
// participants whose networks block direct UDP to the SFU.
//
// The relay is restricted on purpose: a client may only create permissions
// for, and exchange packets with, the SFU's own media addresses
// (Config.AllowedPeers). A TURN server whose relays reach anything is an open
// proxy: anyone holding a credential (and every browser in a call gets one)
// could use our address to reach other hosts, internal services behind our
// firewall (cloud metadata endpoints, Redis, admin ports) or third parties we
// would then be blamed for attacking. Since the only legitimate peer of a
// relayed participant is the SFU itself (browsers never talk to each other
// directly in an SFU call), nothing is lost by refusing everything else.
//
// The check happens twice. CreatePermission and ChannelBind requests for a
// peer IP that hosts no allowed address are refused with 403, so a client
// learns early; and every relay socket drops datagrams to or from an address
// (IP and port) that is not allowed, because TURN permissions cover a whole IP
// and the SFU host may run other services on other ports. TCP relay
// allocations (RFC 6062) are refused: WebRTC never uses them.
//
// Credentials are the TURN REST ("use-auth-secret") scheme of auth.TURNPassword:
// the server stores nothing per user and needs only the shared secret.
package turnserver
