// What the browser tests share: named checks, counted into the "N passed, N failed" line that
// the test command reads, and the gateway's REST API called as a caller with a bearer.

let passed = 0;
let failed = 0;

/** Runs one named check; a throw fails it (with its stack) without stopping the others. */
export async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    fail(name, e);
  }
}

/** Counts a failure outside a check (the set-up, say). */
export function fail(name, e) {
  failed++;
  console.log(`FAIL ${name}\n     ${String(e && e.stack || e).split('\n').join('\n     ')}`);
}

/** Prints the closing line and exits: 0 when nothing failed, else 1. */
export function finish() {
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

/** `rest(method, path, body)` against `gateway` as the caller whose secret is `secret`: the
 * answer's JSON, or a throw naming the status for anything not 2xx. */
export function restAs(gateway, secret) {
  return async function rest(method, p, body) {
    const res = await fetch(gateway + p, {
      method,
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = await res.json();
    if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
}
