// Signs webhook requests with the providers' own libraries, so that the C++
// tests never check our HMAC code against itself.
//
// stdin: a JSON array of requests, each one of
//   {"kind": "twilio", "authToken": "...", "url": "...", "params": {"Name": "value", ...}}
//   {"kind": "standard", "secret": "whsec_...", "id": "...", "timestamp": <unix seconds>, "body": "..."}
// stdout: a JSON array of signature strings, in the same order.
import twilio from "twilio";
import { Webhook } from "standardwebhooks";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const requests = JSON.parse(Buffer.concat(chunks).toString("utf8"));

const signatures = requests.map((r) => {
  if (r.kind === "twilio") return twilio.getExpectedTwilioSignature(r.authToken, r.url, r.params);
  if (r.kind === "standard") return new Webhook(r.secret).sign(r.id, new Date(r.timestamp * 1000), r.body);
  throw new Error(`unknown kind ${r.kind}`);
});
process.stdout.write(JSON.stringify(signatures));
