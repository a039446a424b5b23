// Checks recorded HTTP exchanges against the response schemas of an OpenAPI
// 3.0 document, with ajv (JSON Schema draft-07 + formats).
//
//   node tests/npm/check-responses.mjs api/openapi.json exchanges.jsonl
//
// Each line of the JSON-lines file is one exchange:
//   {"method": "POST", "path_template": "/v1/calls/{id}/end", "status": 200,
//    "body": <the parsed response body>,
//    "headers": {"X-Request-Id": "..."},     (optional: checked when present)
//    "content_type": "application/json"}    (optional: checked when present)
// path_template is the documented path; for a request to a path that is no
// endpoint, or with a method the path does not have, the exchange is checked
// against the document's shared responses (components.responses) listed in
// UNROUTED below: those the server gives before or instead of routing.
//
// Every exchange must match a documented status of its operation and that
// response's schema and required headers. Exits 1 listing the mismatches.
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { readFileSync } from 'node:fs';
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';

const [docFile, exchangesFile] = process.argv.slice(2);
if (!docFile || !exchangesFile) {
  console.error('usage: node check-responses.mjs OPENAPI.json EXCHANGES.jsonl');
  process.exit(2);
}

// Responses the server gives without reaching an operation.
const UNROUTED = {
  400: 'BadRequest', // cpp-httplib could not parse the request: malformed_request
  401: 'Unauthorized', // authentication comes before routing
  404: 'NotFound',
  405: 'MethodNotAllowed',
  413: 'PayloadTooLarge',
  500: 'Internal',
};

const api = await SwaggerParser.dereference(docFile);
if (!api.openapi.startsWith('3.0') && !api.openapi.startsWith('3.1')) {
  console.error(`${docFile}: OpenAPI ${api.openapi} is not supported`);
  process.exit(2);
}
const is30 = api.openapi.startsWith('3.0');

// OpenAPI 3.0 schema -> JSON Schema: `nullable: true` becomes "or null", and
// the OpenAPI-only keywords go. Dereferenced documents share objects, hence
// the memo (which also keeps recursion finite).
const OPENAPI_ONLY = ['nullable', 'discriminator', 'xml', 'externalDocs', 'example', 'deprecated', 'readOnly', 'writeOnly'];
const memo = new WeakMap();
function toJsonSchema(schema) {
  if (Array.isArray(schema)) return schema.map(toJsonSchema);
  if (schema === null || typeof schema !== 'object') return schema;
  if (memo.has(schema)) return memo.get(schema);
  const out = {};
  memo.set(schema, out);
  for (const [key, value] of Object.entries(schema)) {
    if (OPENAPI_ONLY.includes(key)) continue;
    if (key === 'properties' || key === 'patternProperties') {
      out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJsonSchema(v)]));
    } else if (key === 'enum' || key === 'default' || key === 'const') {
      out[key] = value;
    } else {
      out[key] = toJsonSchema(value);
    }
  }
  if (is30 && schema.nullable === true) {
    const inner = { ...out };
    for (const k of Object.keys(out)) delete out[k];
    if (inner.description) out.description = inner.description;
    out.anyOf = [{ type: 'null' }, inner];
  }
  return out;
}

const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);
ajv.addFormat('int32', { type: 'number', validate: (n) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
ajv.addFormat('int64', { type: 'number', validate: (n) => Number.isInteger(n) });

const compiled = new Map();
function validatorFor(key, schema) {
  if (!compiled.has(key)) compiled.set(key, ajv.compile(toJsonSchema(schema)));
  return compiled.get(key);
}

function responseFor(ex) {
  const item = api.paths[ex.path_template];
  const op = item && item[String(ex.method).toLowerCase()];
  if (op) {
    const response = op.responses[String(ex.status)] || op.responses.default;
    if (!response) return { error: `status ${ex.status} is not documented for this operation` };
    return { response, key: `${ex.method} ${ex.path_template} ${ex.status}` };
  }
  const name = UNROUTED[ex.status];
  if (!name) {
    return {
      error: item
        ? `method not documented for this path, and ${ex.status} is not an unrouted response`
        : `path not documented, and ${ex.status} is not an unrouted response`,
    };
  }
  const response = api.components?.responses?.[name];
  if (!response) return { error: `components.responses.${name} is missing` };
  return { response, key: `unrouted ${name}` };
}

const lines = readFileSync(exchangesFile, 'utf8').split('\n').filter((l) => l.trim() !== '');
const mismatches = [];
const seen = new Set();
lines.forEach((line, i) => {
  let ex;
  try {
    ex = JSON.parse(line);
  } catch (err) {
    mismatches.push(`line ${i + 1}: not JSON: ${err.message}`);
    return;
  }
  const where = `line ${i + 1}: ${ex.method} ${ex.path_template} -> ${ex.status}`;
  const { response, key, error } = responseFor(ex);
  if (error) {
    mismatches.push(`${where}: ${error}`);
    return;
  }
  seen.add(key);
  const media = response.content || {};
  const base =
    ex.content_type !== undefined ? String(ex.content_type).split(';')[0].trim().toLowerCase() : undefined;
  if (base !== undefined && !media[base])
    mismatches.push(`${where}: Content-Type ${ex.content_type} is not documented`);
  // TwiML: well-formed XML whose root is <Response>.
  if (base === 'text/xml') {
    const valid = XMLValidator.validate(String(ex.body));
    if (valid !== true) mismatches.push(`${where}: not well-formed XML: ${JSON.stringify(valid.err)}`);
    else if (!('Response' in new XMLParser().parse(String(ex.body))))
      mismatches.push(`${where}: TwiML without a <Response> root`);
  }
  const schema = (base === 'text/xml' || base === 'text/plain' || base === 'text/html' ? media[base] : media['application/json'])
    ?.schema;
  if (!schema) {
    if (ex.body !== undefined && ex.body !== null && ex.body !== '')
      mismatches.push(`${where}: a body where the document has none`);
  } else {
    const validate = validatorFor(key, schema);
    if (!validate(ex.body)) {
      const errors = validate.errors
        .map((e) => `${e.instancePath || '/'} ${e.message}${e.params ? ' ' + JSON.stringify(e.params) : ''}`)
        .join('; ');
      mismatches.push(`${where}: body does not match the schema: ${errors}\n    body: ${JSON.stringify(ex.body)}`);
    }
  }
  if (ex.headers) {
    const sent = Object.fromEntries(Object.entries(ex.headers).map(([k, v]) => [k.toLowerCase(), v]));
    for (const [name, header] of Object.entries(response.headers || {})) {
      const value = sent[name.toLowerCase()];
      if (value === undefined) {
        if (header.required) mismatches.push(`${where}: no ${name} header`);
        continue;
      }
      if (header.schema) {
        const typed = ['integer', 'number'].includes(header.schema.type) && /^-?\d+$/.test(value) ? Number(value) : value;
        const validate = validatorFor(`${key} header ${name}`, header.schema);
        if (!validate(typed)) mismatches.push(`${where}: header ${name}: ${value} does not match its schema`);
      }
    }
  }
});

if (mismatches.length) {
  console.error(`${mismatches.length} of ${lines.length} exchange(s) do not match ${docFile}:`);
  for (const m of mismatches) console.error(`  ${m}`);
  process.exit(1);
}
console.log(`${lines.length} exchange(s) match ${docFile} (${seen.size} distinct responses)`);
