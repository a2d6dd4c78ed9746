/**
 * The driver's own view of the database: a small pg pool whose queries wait out the outages the
 * driver itself injects (a restart, terminated backends), so a probe never fails a chaos run.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { isTransientDbError } from '../../src/db/availability.js';

export class Monitor {
  private readonly pool: pg.Pool;

  constructor(url: string) {
    // application_name differs from loopwright's, so terminateBackends leaves the driver alone.
    this.pool = new pg.Pool({
      connectionString: url,
      max: 3,
      application_name: 'loopwright-chaos',
      connectionTimeoutMillis: 5000,
    });
    // An idle client the server closed (restart) must not crash the driver.
    this.pool.on('error', () => {});
  }

  /** Rows of `text`; retries transient errors for up to `patienceMs`. */
  async rows<T>(text: string, params: unknown[] = [], patienceMs = 120_000): Promise<T[]> {
    const deadline = Date.now() + patienceMs;
    for (;;) {
      try {
        return (await this.pool.query(text, params)).rows as T[];
      } catch (error) {
        if (!isTransientDbError(error) || Date.now() > deadline) throw error;
        await sleep(200);
      }
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
