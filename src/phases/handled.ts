/**
 * Work a job starts early and awaits later (a query while git runs, a row written while gates
 * run), without a rejection in between counting as unhandled.
 */

/**
 * `promise`, with its rejection marked handled now: it still surfaces where the caller awaits
 * it, and is never reported as an unhandled rejection while the caller awaits something else
 * first (or returns early on another path).
 *
 * @example
 * ```ts
 * const plan = handled(currentPlan(db, context)); // goes out now
 * await resetWorkspace(wt, tip);                  // git works meanwhile
 * writeHandover(wt.path, { plan: (await plan)?.plan ?? null, ... });
 * ```
 */
export function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}
