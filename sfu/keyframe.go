package sfu

// KeyframeReason says why the SFU asked a publisher for a key frame. Each
// request is counted by reason, and one layer is asked at most once per
// pliInterval whatever the reason, so no request loop can flood a
// publisher.
type KeyframeReason int

const (
	KeyframeUnknown    KeyframeReason = iota
	KeyframeSubscriber                // a subscriber's decoder asked (PLI or FIR)
	KeyframeStart                     // a new subscriber, or a tile shown again
	KeyframeSwitch                    // a subscriber moves to another layer
	KeyframeCongestion                // video resumes after frames were dropped for bandwidth
	KeyframeRepair                    // a subscriber asked for a packet the SFU can no longer resend
	numKeyframeReasons
)

func (r KeyframeReason) String() string {
	switch r {
	case KeyframeSubscriber:
		return "subscriber"
	case KeyframeStart:
		return "start"
	case KeyframeSwitch:
		return "layer_switch"
	case KeyframeCongestion:
		return "congestion"
	case KeyframeRepair:
		return "repair"
	}
	return "unknown"
}
