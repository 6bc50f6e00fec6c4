package signaling

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeValid(t *testing.T) {
	mid, idx := "0", uint16(0)
	tests := []struct {
		in   string
		want any
	}{
		{`{"type":"join","v":1,"token":"t.k.n","profile":"c2VhbGVk","room":"abcdefghj"}`,
			&Join{Type: TypeJoin, Version: 1, Token: "t.k.n", Profile: "c2VhbGVk", Room: "abcdefghj"}},
		{`{"type":"offer","pc":"pub","sdp":"v=0","tracks":[{"mid":"0","source":"microphone"},{"mid":"1","source":"camera"}]}`,
			&Offer{Type: TypeOffer, PC: PCPub, SDP: "v=0", Tracks: []TrackSource{{"0", "microphone"}, {"1", "camera"}}}},
		{`{"type":"answer","pc":"sub","sdp":"v=0"}`, &Answer{Type: TypeAnswer, PC: PCSub, SDP: "v=0"}},
		{`{"type":"candidate","pc":"sub","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMid":"0","sdpMLineIndex":0}}`,
			&Candidate{Type: TypeCandidate, PC: PCSub, Candidate: &ICECandidate{Candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host", SDPMid: &mid, SDPMLineIndex: &idx}}},
		{`{"type":"candidate","pc":"pub","candidate":null}`, &Candidate{Type: TypeCandidate, PC: PCPub}},
		{`{"type":"mute","audioMuted":true,"videoMuted":false}`, &Mute{Type: TypeMute, AudioMuted: true}},
		{`{"type":"profile","profile":"x"}`, &Profile{Type: TypeProfile, Profile: "x"}},
		{`{"type":"profile","profile":""}`, &Profile{Type: TypeProfile}},
		{`{"type":"chat","data":"b3BhcXVl"}`, &Chat{Type: TypeChat, Data: "b3BhcXVl"}},
		{`{"type":"layer","track":"t1","width":640,"height":360}`, &Layer{Type: TypeLayer, Track: "t1", Width: 640, Height: 360}},
		{`{"type":"layer","track":"t1","width":0,"height":0}`, &Layer{Type: TypeLayer, Track: "t1"}},
		{`{"type":"encodings","mid":"1","layers":[{"rid":"q","width":320,"height":180,"maxBitrate":150000},{"rid":"f","width":1280,"height":720}]}`,
			&Encodings{Type: TypeEncodings, Mid: "1", Layers: []EncodingLayer{{RID: "q", Width: 320, Height: 180, MaxBitrate: 150000}, {RID: "f", Width: 1280, Height: 720}}}},
		{`{"type":"leave"}`, &Leave{Type: TypeLeave}},
		{`{"type":"ping","t":42}`, &Ping{Type: TypePing, T: 42}},
		{`{"type":"pong","t":42}`, &Pong{Type: TypePong, T: 42}},
		{` {"type":"ping","unknown":"fields are ignored"} `, &Ping{Type: TypePing}},
	}
	for _, tt := range tests {
		got, err := Decode([]byte(tt.in))
		if err != nil {
			t.Errorf("Decode(%s): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Decode(%s) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

func TestDecodeInvalid(t *testing.T) {
	big := strings.Repeat("a", MaxOpaqueSize+1)
	tests := []struct {
		name, in string
		want     error
	}{
		{"empty", ``, ErrBadMessage},
		{"not json", `hello`, ErrBadMessage},
		{"truncated", `{"type":"ping"`, ErrBadMessage},
		{"trailing garbage", `{"type":"ping"} x`, ErrBadMessage},
		{"array", `[{"type":"ping"}]`, ErrBadMessage},
		{"string", `"ping"`, ErrBadMessage},
		{"null", `null`, ErrBadMessage},
		{"no type", `{"t":1}`, ErrBadMessage},
		{"type not a string", `{"type":7}`, ErrBadMessage},
		{"unknown type", `{"type":"teleport"}`, ErrUnknownType},
		{"server type welcome", `{"type":"welcome","v":1,"id":"x"}`, ErrUnknownType},
		{"server type drain", `{"type":"drain"}`, ErrUnknownType},
		{"type case", `{"type":"PING"}`, ErrUnknownType},
		{"join version string", `{"type":"join","v":"1","token":"t"}`, ErrBadMessage},
		{"join version 2", `{"type":"join","v":2,"token":"t"}`, ErrBadMessage},
		{"join no version", `{"type":"join","token":"t"}`, ErrBadMessage},
		{"join no token", `{"type":"join","v":1}`, ErrBadMessage},
		{"join token number", `{"type":"join","v":1,"token":5}`, ErrBadMessage},
		{"join token huge", `{"type":"join","v":1,"token":"` + strings.Repeat("t", maxTokenLen+1) + `"}`, ErrTooLarge},
		{"join profile huge", `{"type":"join","v":1,"token":"t","profile":"` + big + `"}`, ErrTooLarge},
		{"offer on sub", `{"type":"offer","pc":"sub","sdp":"v=0"}`, ErrBadMessage},
		{"offer no pc", `{"type":"offer","sdp":"v=0"}`, ErrBadMessage},
		{"offer pc number", `{"type":"offer","pc":1,"sdp":"v=0"}`, ErrBadMessage},
		{"offer no sdp", `{"type":"offer","pc":"pub"}`, ErrBadMessage},
		{"offer sdp object", `{"type":"offer","pc":"pub","sdp":{}}`, ErrBadMessage},
		{"offer tracks object", `{"type":"offer","pc":"pub","sdp":"v=0","tracks":{}}`, ErrBadMessage},
		{"offer bad source", `{"type":"offer","pc":"pub","sdp":"v=0","tracks":[{"mid":"0","source":"webcam"}]}`, ErrBadMessage},
		{"offer empty mid", `{"type":"offer","pc":"pub","sdp":"v=0","tracks":[{"mid":"","source":"camera"}]}`, ErrBadMessage},
		{"offer repeated mid", `{"type":"offer","pc":"pub","sdp":"v=0","tracks":[{"mid":"0","source":"camera"},{"mid":"0","source":"screen"}]}`, ErrBadMessage},
		{"offer too many tracks", `{"type":"offer","pc":"pub","sdp":"v=0","tracks":[` + manyTracks(maxTracks+1) + `]}`, ErrBadMessage},
		{"answer on pub", `{"type":"answer","pc":"pub","sdp":"v=0"}`, ErrBadMessage},
		{"answer no sdp", `{"type":"answer","pc":"sub","sdp":""}`, ErrBadMessage},
		{"candidate bad pc", `{"type":"candidate","pc":"both","candidate":null}`, ErrBadMessage},
		{"candidate is string", `{"type":"candidate","pc":"pub","candidate":"candidate:1"}`, ErrBadMessage},
		{"candidate mline negative", `{"type":"candidate","pc":"pub","candidate":{"candidate":"c","sdpMLineIndex":-1}}`, ErrBadMessage},
		{"candidate huge", `{"type":"candidate","pc":"pub","candidate":{"candidate":"` + strings.Repeat("c", maxCandidateLen+1) + `"}}`, ErrBadMessage},
		{"mute string", `{"type":"mute","audioMuted":"yes"}`, ErrBadMessage},
		{"profile huge", `{"type":"profile","profile":"` + big + `"}`, ErrTooLarge},
		{"profile number", `{"type":"profile","profile":1}`, ErrBadMessage},
		{"chat empty", `{"type":"chat","data":""}`, ErrBadMessage},
		{"chat huge", `{"type":"chat","data":"` + big + `"}`, ErrTooLarge},
		{"chat data array", `{"type":"chat","data":["x"]}`, ErrBadMessage},
		{"layer no track", `{"type":"layer","width":1,"height":1}`, ErrBadMessage},
		{"encodings no mid", `{"type":"encodings","layers":[{"width":1,"height":1}]}`, ErrBadMessage},
		{"encodings no layers", `{"type":"encodings","mid":"1","layers":[]}`, ErrBadMessage},
		{"encodings too many layers", `{"type":"encodings","mid":"1","layers":[{},{},{},{}]}`, ErrBadMessage},
		{"encodings long rid", `{"type":"encodings","mid":"1","layers":[{"rid":"` + strings.Repeat("r", maxRIDLen+1) + `"}]}`, ErrBadMessage},
		{"encodings huge size", `{"type":"encodings","mid":"1","layers":[{"width":99999,"height":1}]}`, ErrBadMessage},
		{"encodings negative rate", `{"type":"encodings","mid":"1","layers":[{"maxBitrate":-1}]}`, ErrBadMessage},
		{"encodings rate string", `{"type":"encodings","mid":"1","layers":[{"maxBitrate":"fast"}]}`, ErrBadMessage},
		{"layer negative", `{"type":"layer","track":"t","width":-1,"height":1}`, ErrBadMessage},
		{"layer huge", `{"type":"layer","track":"t","width":1,"height":99999}`, ErrBadMessage},
		{"layer float", `{"type":"layer","track":"t","width":1.5,"height":1}`, ErrBadMessage},
		{"ping t string", `{"type":"ping","t":"now"}`, ErrBadMessage},
		{"oversize", `{"type":"chat","data":"` + strings.Repeat("a", MaxMessageSize) + `"}`, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := Decode([]byte(tt.in))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decode = %#v, %v; want error %v", msg, err, tt.want)
			}
			if msg != nil {
				t.Errorf("message %#v returned with error", msg)
			}
		})
	}
}

func manyTracks(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = `{"mid":"m` + strings.Repeat("x", i) + `","source":"camera"}`
	}
	return strings.Join(parts, ",")
}

// TestRoutesCoverEveryType keeps the decoder and the dispatch table in
// step: a type that decodes but has no handler would panic in dispatch.
func TestRoutesCoverEveryType(t *testing.T) {
	all := []string{TypeJoin, TypeWelcome, TypeOffer, TypeAnswer, TypeCandidate, TypeJoined, TypeLeft,
		TypeUpdated, TypePublished, TypeUnpublished, TypeMute, TypeProfile, TypeChat, TypeLayer,
		TypeEncodings, TypeRestartICE, TypeLayers, TypeSpeakers, TypeLeave, TypePing, TypePong, TypeError, TypeDrain, TypeRedirect,
		TypeHand, TypeRemove, TypeSetLock, TypeSetLobby, TypeAdmit, TypeDeny, TypeMakeHost, TypeAskMute,
		TypeRoomState, TypeLobbyList, TypeWaiting, TypeAdmitted, TypeRemoved, TypeMuteRequest}
	r := routes()
	n := 0
	for _, typ := range all {
		_, routed := r[typ]
		if decodable := newInbound(typ) != nil; decodable != routed {
			t.Errorf("type %q: decodable %v, routed %v", typ, decodable, routed)
		}
		if routed {
			n++
		}
	}
	if n != len(r) {
		t.Errorf("routes has %d entries, %d known client types", len(r), n)
	}
}

// FuzzDecode checks that no input panics the decoder, that every error is
// one of its sentinels, and that whatever decodes survives a round trip
// through encoding unchanged. The seed corpus in testdata runs with every
// plain `go test`.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"type":"ping","t":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := Decode(data)
		if err != nil {
			if msg != nil {
				t.Fatalf("message with error %v", err)
			}
			if !errors.Is(err, ErrBadMessage) && !errors.Is(err, ErrUnknownType) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		out, err := json.Marshal(msg)
		if err != nil {
			t.Fatalf("re-encoding %#v: %v", msg, err)
		}
		again, err := Decode(out)
		if err != nil {
			t.Fatalf("re-encoded %s does not decode: %v", out, err)
		}
		// Compare encodings, not values: an empty list and a missing one
		// are the same message.
		if out2, _ := json.Marshal(again); !bytes.Equal(out, out2) {
			t.Fatalf("round trip changed %s into %s", out, out2)
		}
	})
}
