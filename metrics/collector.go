package metrics

import "github.com/prometheus/client_golang/prometheus"

// collector turns the sources' Stats into metrics at scrape time.
type collector struct {
	cfg Config

	rooms, participants, tracks *prometheus.Desc
	packets, bytes, drops       *prometheus.Desc
	rxDrops, red, estimates     *prometheus.Desc
	nacksIn, rtx, nacksOut, pli *prometheus.Desc
	pliHeld                     *prometheus.Desc
	rtxBytes, rtxSkipped        *prometheus.Desc
	liveness                    *prometheus.Desc
	sockPackets, sockSyscalls   *prometheus.Desc
	sockErrors, sockGSO         *prometheus.Desc
	forwardDelay                *prometheus.Desc

	sessions, joins, refusedJoins *prometheus.Desc
	slowClients, badMessages      *prometheus.Desc

	turnAllocs, turnRefused *prometheus.Desc

	limitRefusals *prometheus.Desc
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, labels, nil)
}

func newCollector(cfg Config) *collector {
	return &collector{
		cfg:          cfg,
		rooms:        desc("rooms", "Rooms with at least one participant."),
		participants: desc("participants", "Participants in all rooms."),
		tracks:       desc("tracks", "Published tracks in all rooms."),
		packets:      desc("forwarded_packets_total", "RTP packets forwarded to subscribers."),
		bytes:        desc("forwarded_bytes_total", "RTP payload and header bytes forwarded to subscribers."),
		drops:        desc("dropped_packets_total", "Packets not forwarded to a subscriber, by reason.", "reason"),
		rxDrops:      desc("receive_dropped_packets_total", "Received packets dropped before forwarding: waited too long in the receive queue (late) or pushed out of a full one (full).", "reason"),
		red:          desc("red_packets_total", "Opus RED packets forwarded, by what the subscriber got: red, or opus (the primary block alone, for a subscriber without RED).", "sent_as"),
		estimates:    desc("bandwidth_estimates_total", "Bandwidth estimates applied to subscribers' video, by source: transport_cc (the server's own, from transport-wide feedback) or remb (the browser's).", "source"),
		nacksIn:      desc("nacks_received_total", "Sequence numbers subscribers asked to have resent."),
		rtx:          desc("retransmits_total", "NACKed packets resent from the cache."),
		rtxBytes:     desc("retransmitted_bytes_total", "Payload bytes of the retransmissions."),
		rtxSkipped:   desc("retransmits_skipped_total", "NACKed packets not resent, by reason: too_old (past the receiver's jitter window), over_budget (the subscriber link's share for repair was spent).", "reason"),
		liveness:     desc("subscriber_liveness_total", "What subscribers without feedback led to, by reason: video_paused, audio_paused, resumed, removed.", "reason"),
		nacksOut:     desc("nacks_sent_total", "Sequence numbers the SFU asked publishers to resend."),
		pli:          desc("plis_sent_total", "Key frame requests (PLI) sent to publishers, by reason.", "reason"),
		pliHeld:      desc("plis_held_total", "Key frame requests not sent because the layer was asked within the last 500 ms."),
		sockPackets:  desc("socket_batched_packets_total", "Datagrams sent in sendmmsg batches."),
		sockSyscalls: desc("socket_batch_syscalls_total", "sendmmsg calls."),
		sockErrors:   desc("socket_send_errors_total", "Datagrams (or GSO sends) the kernel refused to send."),
		sockGSO:      desc("socket_gso_datagrams_total", "Datagrams sent inside UDP GSO sends (one kernel pass for a frame's packets to one subscriber)."),
		forwardDelay: desc("forward_delay_seconds", "How long after the SFU read a frame's first packet the last subscriber's copy was sent (video: the wait for the rest of the frame included), per frame and track."),
		sessions:     desc("signaling_sessions", "Open signaling WebSockets."),
		joins:        desc("joins_total", "Joins accepted."),
		refusedJoins: desc("joins_refused_total", "Joins refused (token, room full, E2EE mismatch, draining)."),
		slowClients:  desc("signaling_slow_clients_total", "Clients disconnected because they could not keep up."),
		badMessages:  desc("signaling_bad_messages_total", "Signaling messages refused with an error."),
		turnAllocs:   desc("turn_allocations", "Live allocations on the embedded TURN server."),
		turnRefused:  desc("turn_refused_total", "TURN requests or datagrams refused, by reason.", "reason"),

		limitRefusals: desc("limit_refusals_total", "Requests, connections and messages refused by an abuse limit, by limit (docs/security.md).", "limit"),
	}
}

// Describe sends every descriptor, so the registry can check for clashes.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.rooms, c.participants, c.tracks, c.packets, c.bytes, c.drops, c.rxDrops, c.red, c.estimates,
		c.nacksIn, c.rtx, c.rtxBytes, c.rtxSkipped, c.liveness, c.nacksOut, c.pli, c.pliHeld, c.sockPackets, c.sockSyscalls, c.sockErrors, c.sockGSO, c.forwardDelay,
		c.sessions, c.joins, c.refusedJoins, c.slowClients, c.badMessages, c.turnAllocs, c.turnRefused, c.limitRefusals} {
		ch <- d
	}
}

// Collect reads each source once per scrape.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	if c.cfg.SFU != nil {
		c.collectSFU(ch, c.cfg.SFU())
	}
	if c.cfg.Signaling != nil {
		s := c.cfg.Signaling()
		ch <- gauge(c.sessions, float64(s.Sessions))
		ch <- counter(c.joins, float64(s.AcceptedJoins))
		ch <- counter(c.refusedJoins, float64(s.RefusedJoins))
		ch <- counter(c.slowClients, float64(s.SlowClients))
		ch <- counter(c.badMessages, float64(s.BadMessages))
	}
	if c.cfg.Limits != nil {
		for limit, v := range c.cfg.Limits() {
			ch <- counter(c.limitRefusals, float64(v), limit)
		}
	}
	if c.cfg.TURN != nil {
		s := c.cfg.TURN()
		ch <- gauge(c.turnAllocs, float64(s.Allocations))
		for reason, v := range s.Refused {
			ch <- counter(c.turnRefused, float64(v), reason)
		}
	}
}

func (c *collector) collectSFU(ch chan<- prometheus.Metric, s Media) {
	ch <- gauge(c.rooms, float64(s.Rooms))
	ch <- gauge(c.participants, float64(s.Participants))
	ch <- gauge(c.tracks, float64(s.Tracks))
	ch <- counter(c.packets, float64(s.PacketsForwarded))
	ch <- counter(c.bytes, float64(s.BytesForwarded))
	for reason, v := range s.Drops {
		ch <- counter(c.drops, float64(v), reason)
	}
	for reason, v := range s.ReceiveDrops {
		ch <- counter(c.rxDrops, float64(v), reason)
	}
	for as, v := range s.RED {
		ch <- counter(c.red, float64(v), as)
	}
	for src, v := range s.Estimates {
		ch <- counter(c.estimates, float64(v), src)
	}
	ch <- counter(c.nacksIn, float64(s.NACKsReceived))
	ch <- counter(c.rtx, float64(s.Retransmits))
	ch <- counter(c.rtxBytes, float64(s.RetransmitBytes))
	for reason, v := range s.RetransmitsSkipped {
		ch <- counter(c.rtxSkipped, float64(v), reason)
	}
	for reason, v := range s.Liveness {
		ch <- counter(c.liveness, float64(v), reason)
	}
	ch <- counter(c.nacksOut, float64(s.NACKsSent))
	for reason, v := range s.PLIs {
		ch <- counter(c.pli, float64(v), reason)
	}
	ch <- counter(c.pliHeld, float64(s.PLIsHeld))
	ch <- counter(c.sockPackets, float64(s.SocketPackets))
	ch <- counter(c.sockSyscalls, float64(s.SocketSyscalls))
	ch <- counter(c.sockErrors, float64(s.SocketErrors))
	ch <- counter(c.sockGSO, float64(s.SocketGSODatagrams))
	if h := s.ForwardDelay; len(h.Counts) == len(h.Bounds)+1 {
		var n uint64
		buckets := make(map[float64]uint64, len(h.Bounds))
		for i, b := range h.Bounds {
			n += h.Counts[i]
			buckets[b] = n
		}
		n += h.Counts[len(h.Bounds)]
		ch <- prometheus.MustNewConstHistogram(c.forwardDelay, n, h.Sum, buckets)
	}
}

func gauge(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func counter(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
}
