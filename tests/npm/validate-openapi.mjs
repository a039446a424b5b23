// Lints an OpenAPI document with a real validator (@apidevtools/swagger-parser:
// the OpenAPI 3.x JSON Schema plus its semantic checks), then with a few rules
// of this API's own that every response must follow.
//
//   node tests/npm/validate-openapi.mjs api/openapi.json
//
// Exits 0 when valid; otherwise prints every problem and exits 1.
import SwaggerParser from '@apidevtools/swagger-parser';

const file = process.argv[2];
if (!file) {
  console.error('usage: node validate-openapi.mjs OPENAPI.json');
  process.exit(2);
}

let api;
try {
  api = await SwaggerParser.validate(file);
} catch (err) {
  console.error(`${file}: not a valid OpenAPI document:\n${err.message}`);
  process.exit(1);
}

// The project's own rules, on the dereferenced document.
const problems = [];
const methods = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'];
const operationIds = new Set();
for (const [path, item] of Object.entries(api.paths)) {
  for (const method of methods) {
    const op = item[method];
    if (!op) continue;
    const where = `${method.toUpperCase()} ${path}`;
    if (!op.operationId) problems.push(`${where}: no operationId`);
    else if (operationIds.has(op.operationId)) problems.push(`${where}: duplicate operationId ${op.operationId}`);
    operationIds.add(op.operationId);
    const open = Array.isArray(op.security) && op.security.length === 0;
    if (!open && !op.responses['401']) problems.push(`${where}: needs a token but documents no 401`);
    for (const [status, response] of Object.entries(op.responses)) {
      const at = `${where} ${status}`;
      if (!response.headers || !response.headers['X-Request-Id']) problems.push(`${at}: no X-Request-Id header`);
      // 204 No Content is the one response without a body (HTTP forbids one).
      if (status === '204') {
        if (response.content) problems.push(`${at}: 204 must have no content`);
        continue;
      }
      // TwiML answers (the inbound gate) and the Prometheus exposition
      // (GET /metrics) are the non-JSON success bodies.
      const media =
        response.content &&
        (response.content['application/json'] ??
          (Number(status) < 300
            ? response.content['text/xml'] ?? response.content['text/plain'] ?? response.content['text/html']
            : undefined));
      if (!media || !media.schema) {
        problems.push(`${at}: no application/json schema`);
        continue;
      }
      if (Number(status) >= 400) {
        // Each alternative (anyOf) must narrow Error to its codes.
        const narrows = (schema) =>
          schema.allOf
            ? schema.allOf.map((s) => s.properties?.error?.properties?.code).some((c) => c?.enum)
            : false;
        const alternatives = media.schema.anyOf ?? [media.schema];
        if (!alternatives.every(narrows))
          problems.push(`${at}: an error response must narrow Error to its codes`);
        if (['429', '503'].includes(status) && !response.headers['Retry-After'])
          problems.push(`${at}: no Retry-After header`);
      }
    }
  }
}

if (problems.length) {
  console.error(`${file}: ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(
  `${file}: valid OpenAPI ${api.openapi} (${api.info.title} ${api.info.version}): ` +
    `${Object.keys(api.paths).length} paths, ${operationIds.size} operations`,
);
