// Package webhook signs and verifies Herald's webhook callbacks.
//
// Herald signs every callback with the Standard Webhooks scheme
// (https://www.standardwebhooks.com), so any Standard Webhooks library can
// verify it; this package is the reference implementation for Go receivers
// and the signer Herald itself uses. Each request carries three headers:
//
//	webhook-id:        evt_…   (the event id; the same on every retry)
//	webhook-timestamp: 1614265330   (unix seconds when it was signed)
//	webhook-signature: v1,<base64 HMAC-SHA256> [v1,… | v1a,<base64 ed25519>]…
//
// The signed content is id + "." + timestamp + "." + body, so the body must be
// verified exactly as received: verify the raw bytes before decoding them, and
// never re-encode JSON before verifying.
//
// # Receiving
//
// Create one [Verifier] at start-up with the endpoint's secret (the whsec_…
// string shown when the endpoint was created) and share it between requests;
// it is safe for concurrent use:
//
//	v, err := webhook.NewVerifier(os.Getenv("HERALD_WEBHOOK_SECRET"))
//	if err != nil {
//		log.Fatal(err)
//	}
//	http.HandleFunc("POST /hooks/herald", func(w http.ResponseWriter, r *http.Request) {
//		ev, err := v.ParseRequest(r)
//		if err != nil {
//			http.Error(w, "invalid webhook", http.StatusBadRequest)
//			return
//		}
//		// Herald retries until it gets a 2xx, so an event may arrive more
//		// than once: use ev.ID to ignore duplicates.
//		handle(ev)
//		w.WriteHeader(http.StatusNoContent)
//	})
//
// While rotating a secret, pass both the old and the new one to [NewVerifier];
// a request verifies if any of its signatures matches any of the secrets.
// Endpoints configured for asymmetric signing give the receiver a whpk_…
// public key instead, which NewVerifier accepts in the same list.
//
// # Sending
//
// [Sign] and [SignEd25519] return a complete webhook-signature header value,
// and [AppendSignature] and [AppendSignatureEd25519] append one signature
// entry to a buffer. HMAC signatures are computed with crypto/hmac.
//
// Senders that sign at volume should create one [Signer] per secret with
// [NewSigner] and share it: it is safe for concurrent use and reuses its
// HMAC states, so [Signer.AppendSignature] does not allocate when signing
// into a reused buffer. During a rotation, sign with each active secret and
// separate the entries with a space:
//
//	sig = newSigner.AppendSignature(sig[:0], id, ts, body)
//	sig = append(sig, ' ')
//	sig = oldSigner.AppendSignature(sig, id, ts, body)
package webhook
