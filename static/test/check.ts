// What every Node test file shares: checks that count failures, waits, and
// the report that sets the exit status.

declare const process: { exitCode?: number };

let failures = 0;

/** check counts and prints a failure when ok is false. */
export function check(ok: boolean, what: string): void {
  if (!ok) {
    failures++;
    console.error(`FAIL ${what}`);
  }
}

/** failed is the number of failed checks so far. */
export function failed(): number {
  return failures;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** until polls f every 10 ms for at most ms; it returns f's last answer. */
export async function until(f: () => boolean, ms = 2000): Promise<boolean> {
  for (let t = 0; t < ms; t += 10) {
    if (f()) return true;
    await sleep(10);
  }
  return f();
}

/** report prints the file's verdict and fails the process on a failure. */
export function report(name: string, passed?: string): void {
  console.log(failures === 0 ? `${name}: ok${passed ? ` ${passed}` : ""}` : `${name}: ${failures} failed`);
  if (failures > 0) process.exitCode = 1;
}
