// Package billingtest holds the test doubles of billing's outside world,
// shared by the tests of billing and of the server: a clock the test moves,
// stripe-mock behind a recording RoundTripper (the real stripe-go client
// talks to it) and a real SMTP server that wants STARTTLS and AUTH, as SES
// does. Everything listens on 127.0.0.1 on free ports and stops when the
// test ends; nothing is written to disk.
package billingtest
