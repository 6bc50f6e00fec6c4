// Success page of MonkeyThorn Meet checkout: fetches the access code for the
// Checkout Session in the URL and shows it. Served by the binary itself
// (CSP default-src 'self'); no inline script.

const POLL_MS = 2000;
const MAX_POLLS = 15; // the webhook usually lands within seconds

/** @param {string} id @returns {HTMLElement} */
function el(id) {
  const e = document.getElementById(id);
  if (!e) throw new Error(`missing #${id}`);
  return e;
}

/** @param {string} msg @param {boolean} isError */
function status(msg, isError) {
  const s = el("status");
  s.textContent = msg;
  s.classList.toggle("error", isError);
}

/** @param {{code: string, plan: string, mailed: boolean}} r */
function show(r) {
  status("Payment confirmed.", false);
  el("plan").textContent = r.plan;
  el("code").textContent = r.code;
  el("mailed").hidden = !r.mailed;
  el("result").hidden = false;
  el("copy").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(r.code);
      el("copy").textContent = "Copied";
    } catch {
      el("copy").textContent = "Select and copy the code";
    }
  });
}

async function main() {
  const id = new URLSearchParams(location.search).get("session_id");
  if (!id) {
    status("This page needs the session_id that Stripe adds to the link.", true);
    return;
  }
  const url = `/api/checkout/result?session_id=${encodeURIComponent(id)}`;
  for (let i = 0; i < MAX_POLLS; i++) {
    let res;
    try {
      res = await fetch(url, { cache: "no-store" });
    } catch {
      res = null;
    }
    if (res && res.ok) {
      show(await res.json());
      return;
    }
    if (res && res.status !== 409 && res.status < 500) {
      const body = await res.json().catch(() => ({}));
      status(body.error || `Could not load your code (HTTP ${res.status}).`, true);
      return;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  status("Your payment is still being confirmed. Reload this page in a minute; the code is also mailed to you if mail is set up.", true);
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", main);
} else {
  main();
}
