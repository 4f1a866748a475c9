// One line per step; the first failure ends the run with exit code 1 and says why.

let failureHint = () => '';

/** Text appended to a failure report (e.g. the server's stderr). */
export function onFailureShow(hint) {
  failureHint = hint;
}

/** Runs one named step; prints "ok <name> ..." or reports the failure and exits non-zero. */
export async function step(name, action) {
  const started = performance.now();
  try {
    const detail = await action();
    const ms = Math.round(performance.now() - started);
    console.log(`ok   ${name}${detail ? ` — ${detail}` : ''} (${ms} ms)`);
  } catch (error) {
    fail(name, error);
  }
}

/** Reports a failure of the named step and exits with code 1. */
export function fail(name, error) {
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  console.log(`FAIL ${name}: ${error instanceof Error ? error.message : String(error)}`);
  console.error(`FAIL ${name}\n${message}`);
  const hint = failureHint();
  if (hint) {
    console.error(hint);
  }
  process.exit(1);
}
