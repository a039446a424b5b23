// Signs webhook requests with the providers' own libraries, so that the C++
// tests never check our HMAC code against itself.
//
// stdin: a JSON array of requests, each one of
//   {"kind": "twilio", "authToken": "...", "url": "...", "params": {"Name": "value", ...}}
//   {"kind": "standard", "secret": "whsec_...", "id": "...", "timestamp": <unix seconds>, "body": "..."}
//   {"kind": "standard-verify", "secret": "whsec_...", "headers": {...}, "body": "..."}
//     (standardwebhooks' Webhook.verify: "ok", or the error it threw)
// stdout: a JSON array of signature strings (or verdicts), in the same order.
import twilio from "twilio";
import { Webhook } from "standardwebhooks";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const requests = JSON.parse(Buffer.concat(chunks).toString("utf8"));

const signatures = requests.map((r) => {
  if (r.kind === "twilio") return twilio.getExpectedTwilioSignature(r.authToken, r.url, r.params);
  if (r.kind === "standard") return new Webhook(r.secret).sign(r.id, new Date(r.timestamp * 1000), r.body);
  if (r.kind === "standard-verify") {
    try {
      new Webhook(r.secret).verify(r.body, r.headers);
      return "ok";
    } catch (err) {
      return `rejected: ${err.message}`;
    }
  }
  throw new Error(`unknown kind ${r.kind}`);
});
process.stdout.write(JSON.stringify(signatures));
