// Package billing sells paid plans through Stripe without keeping a database.
//
// Stripe is the system of record. A buyer goes through Stripe Checkout
// (subscription mode: a flat monthly price plus a metered per-minute price);
// when the checkout.session.completed webhook arrives the Service derives an
// access code from the Stripe customer id and the plan, signs it with HMAC and
// mails it to the buyer. The code carries everything needed to verify it, so
// it keeps working after a restart with the same CodeSecret, and it stops
// working as soon as Stripe says the subscription is no longer active (checked
// with a short in-memory cache that webhooks invalidate).
//
// Paid rooms report connection minutes: the server calls RecordUsage when a
// participant of a paid room leaves, the Service sums per customer in memory
// and Flush sends one usage record per customer with a stable idempotency key,
// so a retried report never counts twice. Free rooms are never counted.
//
// Nothing here writes to disk, and the buyer's e-mail address, name and access
// code never reach a log: they travel in types whose LogValue redacts them.
package billing
